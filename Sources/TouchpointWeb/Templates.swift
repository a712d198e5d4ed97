import Mustache

/// The web view's pages: Mustache templates kept in code (the program is one
/// binary with no resource files to lose). Mustache escapes every `{{value}}`,
/// so patient names and notes are never HTML.
///
/// Every page: `lang="en-GB"`, one `h1`, a title naming the page, a skip
/// link, the error summary first when there are errors.
enum Templates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        do {
            for (name, source) in sources { try library.register(source, named: name) }
        } catch {
            fatalError("a web view template does not parse: \(error)")  // constants: the tests render every page
        }
        return library
    }()

    static func render(_ page: String, _ values: [String: Any]) -> String {
        guard let html = library.render(values, withTemplate: page) else { fatalError("no template \(page)") }
        return html
    }

    static let sources: [String: String] = [
        "head": head, "foot": foot, "errors": errors, "login": login, "calls": calls, "row": row, "call": call, "message": message,
        "report": report,
    ]

    static let head = #"""
        <!DOCTYPE html>
        <html lang="en-GB">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{#hasErrors}}Error: {{/hasErrors}}{{title}} – touchpoint</title>
        <link rel="stylesheet" href="/static/app.css">
        </head>
        <body>
        <a class="skip-link" href="#main">Skip to main content</a>
        <header class="header">
        <div class="header-inner">
        <a class="service" href="/calls">touchpoint<span class="visually-hidden">: check-in calls</span></a>
        {{#user}}
        <nav aria-label="Main">
        <ul class="nav">
        <li><a href="/calls"{{#navCalls}} aria-current="page"{{/navCalls}}>Today’s calls</a></li>
        <li><a href="/calls/escalated"{{#navEscalated}} aria-current="page"{{/navEscalated}}>Escalated</a></li>
        <li><a href="/calls/unassigned"{{#navUnassigned}} aria-current="page"{{/navUnassigned}}>Unassigned</a></li>
        <li><a href="/report"{{#navReport}} aria-current="page"{{/navReport}}>Pledge report</a></li>
        </ul>
        </nav>
        <div class="who">
        <span>Signed in as <strong>{{user}}</strong></span>
        <form method="post" action="/logout">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button class="link-button" type="submit">Sign out</button>
        </form>
        </div>
        {{/user}}
        </div>
        </header>
        <main id="main" tabindex="-1">
        {{#hasWarnings}}
        <div class="banner banner-warning" role="region" aria-labelledby="warnings-title">
        <h2 id="warnings-title">Important</h2>
        {{#warnings}}<p>{{text}}</p>{{/warnings}}
        </div>
        {{/hasWarnings}}
        """#

    static let foot = #"""
        </main>
        <footer class="footer">
        <p>touchpoint, for the breast care team. If this page cannot reach touchpoint, phone patients from the printed list and record outcomes later.</p>
        </footer>
        </body>
        </html>
        """#

    /// The error summary: first on the page, each error linking to its field.
    static let errors = #"""
        {{#hasErrors}}
        <div class="error-summary" aria-labelledby="error-summary-title" role="alert" tabindex="-1">
        <h2 id="error-summary-title">There is a problem</h2>
        <ul>
        {{#errors}}
        <li><a href="#{{field}}">{{message}}</a></li>
        {{/errors}}
        </ul>
        </div>
        {{/hasErrors}}
        """#

    static let login = #"""
        {{> head}}
        {{> errors}}
        {{#signedOut}}
        <div class="banner banner-success" role="status" aria-labelledby="banner-title">
        <h2 id="banner-title">Signed out</h2>
        <p>You have signed out. Close the browser window if you are on a shared computer.</p>
        </div>
        {{/signedOut}}
        {{#ended}}
        <div class="inset"><p>Your session ended. Sign in again to carry on.</p></div>
        {{/ended}}
        <h1>Sign in</h1>
        <p class="lede">Sign in with your own touchpoint account to see your ward’s check-in calls.</p>
        <form method="post" action="/login" novalidate>
        <div class="form-group{{#usernameError}} form-group-error{{/usernameError}}">
        <label for="username">Username</label>
        {{#usernameError}}<span class="error-message" id="username-error"><span class="visually-hidden">Error:</span> {{usernameError}}</span>{{/usernameError}}
        <input type="text" id="username" name="username" value="{{username}}" autocomplete="username" autocapitalize="none" spellcheck="false"{{#usernameError}} class="input-error" aria-describedby="username-error"{{/usernameError}}>
        </div>
        <div class="form-group{{#passwordError}} form-group-error{{/passwordError}}">
        <label for="password">Password</label>
        {{#passwordError}}<span class="error-message" id="password-error"><span class="visually-hidden">Error:</span> {{passwordError}}</span>{{/passwordError}}
        <input type="password" id="password" name="password" autocomplete="current-password"{{#passwordError}} class="input-error" aria-describedby="password-error"{{/passwordError}}>
        </div>
        <button class="button" type="submit">Sign in</button>
        </form>
        <p class="hint">Forgotten your password or locked out? Ask your touchpoint administrator.</p>
        {{> foot}}
        """#

    static let calls = #"""
        {{> head}}
        {{> errors}}
        {{#flash}}
        <div class="banner banner-success" role="status" aria-labelledby="banner-title">
        <h2 id="banner-title">{{flashTitle}}</h2>
        <p>{{flash}}</p>
        </div>
        {{/flash}}
        <h1>{{heading}}</h1>
        {{#intro}}<p>{{intro}}</p>{{/intro}}
        <p class="freshness">List as of {{asOf}}. <a href="{{refresh}}">Refresh the list</a> <span class="stale">This list is more than 5 minutes old: refresh it before you call.</span></p>
        {{#showFilters}}
        <form class="filters" method="get" action="{{filterAction}}">
        <div class="form-group{{#dateError}} form-group-error{{/dateError}}">
        <label for="date">Day</label>
        {{#dateError}}<span class="error-message" id="date-error"><span class="visually-hidden">Error:</span> {{dateError}}</span>{{/dateError}}
        <input type="date" id="date" name="date" value="{{date}}"{{#dateError}} class="input-error" aria-describedby="date-error"{{/dateError}}>
        </div>
        {{#hasWardChoice}}
        <div class="form-group">
        <label for="ward">Ward</label>
        <select id="ward" name="ward">
        <option value="">{{allWardsLabel}}</option>
        {{#wards}}<option value="{{name}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/wards}}
        </select>
        </div>
        {{/hasWardChoice}}
        {{#list}}<input type="hidden" name="list" value="{{list}}">{{/list}}
        <button class="button button-secondary" type="submit">Show calls</button>
        </form>
        {{/showFilters}}
        {{#hasOtherLists}}
        <nav class="other-lists" aria-label="Other call lists"><p>Other lists:
        {{#otherLists}}<a href="{{href}}">{{name}}</a> {{/otherLists}}</p></nav>
        {{/hasOtherLists}}
        {{#empty}}
        <div class="inset"><p>{{emptyText}}</p></div>
        {{/empty}}
        {{^empty}}
        <div class="table-wrap">
        <table class="responsive calls">
        <caption>{{caption}}</caption>
        <thead><tr><th scope="col">Patient</th><th scope="col">Phone</th><th scope="col">Status</th><th scope="col">Ward and procedure</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
        <tbody>
        {{{rowsHTML}}}
        </tbody>
        </table>
        </div>
        {{/empty}}
        {{#printLink}}<p><a href="{{printLink}}">Printable list (A4)</a></p>{{/printLink}}
        {{> foot}}
        """#

    /// One row of a call list, rendered once per list (`CallListCache`).
    /// Compact: a thousand of them make the page.
    static let row = #"""
        <tr><td><strong>{{name}}</strong>{{#identity}}<br><span class="small">{{identity}}</span>{{/identity}}{{#needs}}<br><strong class="tag tag-need">{{.}}</strong>{{/needs}}</td><td class="phone"><a href="tel:{{tel}}">{{phone}}</a><br><span class="small{{^voicemailOK}} warning-text{{/voicemailOK}}">voicemail {{voicemail}}</span></td><td><strong class="tag {{tagClass}}">{{tag}}</strong>{{#tries}}<br><span class="small">{{tries}}</span>{{/tries}}</td><td>{{ward}}{{#procedure}}<br><span class="small">{{procedure}}</span>{{/procedure}}</td><td><a href="{{callPath}}">Record outcome<span class="visually-hidden"> for {{name}}</span></a></td></tr>

        """#

    static let call = #"""
        {{> head}}
        {{> errors}}
        {{#conflict}}
        <div class="banner banner-warning" role="alert" aria-labelledby="conflict-title">
        <h2 id="conflict-title">Nothing was recorded</h2>
        <p>{{conflict}}</p>
        </div>
        {{/conflict}}
        <p><a href="{{back}}">Back to {{backLabel}}</a></p>
        <h1><span class="visually-hidden">{{callKind}}: </span>{{name}}</h1>
        <dl class="summary-list">
        <div><dt>Date of birth</dt><dd>{{#born}}{{born}}{{/born}}{{^born}}not given: confirm another way{{/born}}</dd></div>
        <div><dt>NHS number</dt><dd>{{#nhsEnd}}ending {{nhsEnd}}{{/nhsEnd}}{{^nhsEnd}}not given{{/nhsEnd}}</dd></div>
        <div><dt>Phone</dt><dd><a href="tel:{{tel}}">{{phone}}</a></dd></div>
        <div><dt>Voicemail</dt><dd>{{#voicemailOK}}{{voicemail}}{{/voicemailOK}}{{^voicemailOK}}<span class="warning-text">{{voicemail}}</span>{{/voicemailOK}}</dd></div>
        <div><dt>Ward</dt><dd>{{ward}}</dd></div>
        <div><dt>{{whenLabel}}</dt><dd>{{surgery}}{{#procedure}}<br>{{procedure}}{{/procedure}}</dd></div>
        <div><dt>Status</dt><dd><strong class="tag {{tagClass}}">{{tag}}</strong>{{#tries}} <span class="small">{{tries}}</span>{{/tries}}</dd></div>
        {{#hasNeeds}}<div><dt>Communication needs</dt><dd>{{#needs}}<strong class="tag tag-need">{{.}}</strong> {{/needs}}</dd></div>{{/hasNeeds}}
        </dl>
        {{#concern}}
        <div class="inset"><h2>The patient’s concern</h2><p>{{concern}}</p></div>
        {{/concern}}
        <h2>Attempts so far</h2>
        {{^attempts}}<p>No attempts recorded yet.</p>{{/attempts}}
        {{#hasAttempts}}
        <div class="table-wrap">
        <table class="responsive attempts">
        <caption class="visually-hidden">Attempts so far, oldest first</caption>
        <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Outcome</th><th scope="col">Note</th></tr></thead>
        <tbody>
        {{#attempts}}
        <tr><td>{{when}}</td><td>{{by}}</td><td>{{outcome}}</td><td>{{note}}</td></tr>
        {{/attempts}}
        </tbody>
        </table>
        </div>
        {{/hasAttempts}}
        {{#closedText}}
        <div class="inset"><p>{{closedText}}</p></div>
        {{/closedText}}
        {{#canReopen}}
        <h2 id="reopen">Recorded in error?</h2>
        <form method="post" action="{{callPath}}/reopen" novalidate>
        <input type="hidden" name="csrf" value="{{csrf}}">
        <div class="form-group{{#reasonError}} form-group-error{{/reasonError}}">
        <label for="reason">What was recorded in error</label>
        <p class="hint" id="reason-hint">The call goes back on the list. Its history keeps this outcome, withdrawn, with your name and this reason. A call can be reopened for 24 hours after its outcome.</p>
        {{#reasonError}}<span class="error-message" id="reason-error"><span class="visually-hidden">Error:</span> {{reasonError}}</span>{{/reasonError}}
        <textarea id="reason" name="reason" rows="3" maxlength="1000" aria-describedby="reason-hint{{#reasonError}} reason-error{{/reasonError}}"{{#reasonError}} class="input-error"{{/reasonError}}>{{reason}}</textarea>
        </div>
        <button class="button button-secondary" type="submit">Reopen this call<span class="visually-hidden"> of {{name}}</span></button>
        </form>
        {{/canReopen}}
        {{#escalation}}
        <h2>With the breast care nurse</h2>
        <p>{{escalation}}</p>
        {{#canTake}}
        <form method="post" action="{{callPath}}/take">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button class="button" type="submit">I’ll take this<span class="visually-hidden"> call of {{name}}</span></button>
        </form>
        {{/canTake}}
        {{/escalation}}
        {{#canRecord}}
        <h2 id="record">Record what happened</h2>
        <form method="post" action="{{callPath}}/outcome" novalidate>
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="seen_outcomes" value="{{seenOutcomes}}">
        <input type="hidden" name="list" value="{{list}}">
        <div class="form-group{{#outcomeError}} form-group-error{{/outcomeError}}">
        <fieldset{{#outcomeError}} aria-describedby="outcome-error"{{/outcomeError}}>
        <legend>What happened on the call?</legend>
        {{#outcomeError}}<span class="error-message" id="outcome-error"><span class="visually-hidden">Error:</span> {{outcomeError}}</span>{{/outcomeError}}
        <div class="radios">
        {{#outcomes}}
        <div class="radio"><input type="radio" id="{{id}}" name="outcome" value="{{value}}"{{#checked}} checked{{/checked}}><label for="{{id}}">{{label}}</label></div>
        {{/outcomes}}
        </div>
        </fieldset>
        </div>
        {{#asksWoundCare}}
        <div class="form-group{{#woundError}} form-group-error{{/woundError}}">
        <fieldset aria-describedby="wound-hint{{#woundError}} wound-error{{/woundError}}">
        <legend>If you reached the patient: was wound care discussed?</legend>
        <p class="hint" id="wound-hint">Answer this when the outcome is “Reached”.</p>
        {{#woundError}}<span class="error-message" id="wound-error"><span class="visually-hidden">Error:</span> {{woundError}}</span>{{/woundError}}
        <div class="radios radios-inline">
        <div class="radio"><input type="radio" id="wound-yes" name="wound_care" value="yes"{{#woundYes}} checked{{/woundYes}}><label for="wound-yes">Yes</label></div>
        <div class="radio"><input type="radio" id="wound-no" name="wound_care" value="no"{{#woundNo}} checked{{/woundNo}}><label for="wound-no">No</label></div>
        </div>
        </fieldset>
        </div>
        {{/asksWoundCare}}
        {{#canConcern}}
        <div class="form-group{{#concernError}} form-group-error{{/concernError}}">
        {{#concernError}}<span class="error-message" id="concern-error"><span class="visually-hidden">Error:</span> {{concernError}}</span>{{/concernError}}
        <div class="checkbox"><input type="checkbox" id="concern" name="concern" value="yes"{{#concernChecked}} checked{{/concernChecked}} aria-describedby="concern-hint{{#concernError}} concern-error{{/concernError}}"><label for="concern">The patient raised a concern</label></div>
        <p class="hint" id="concern-hint">With “Reached the patient”: the call is done, and the breast care nurse follows the concern up from the escalated list. Say what the concern is in the note.</p>
        </div>
        {{/canConcern}}
        <div class="form-group{{#noteError}} form-group-error{{/noteError}}">
        <label for="note">Note</label>
        <p class="hint" id="note-hint">Needed for “Not required” (say why, for example readmitted). Do not write the patient’s phone number or NHS number here.</p>
        {{#noteError}}<span class="error-message" id="note-error"><span class="visually-hidden">Error:</span> {{noteError}}</span>{{/noteError}}
        <textarea id="note" name="note" rows="4" maxlength="1000" aria-describedby="note-hint{{#noteError}} note-error{{/noteError}}"{{#noteError}} class="input-error"{{/noteError}}>{{note}}</textarea>
        </div>
        <button class="button" type="submit">Record outcome</button>
        </form>
        {{/canRecord}}
        {{> foot}}
        """#

    /// The pledge report: the period's form, then the report's body
    /// (`ReportFormat.body`, shared with `touchpointctl report --format html`).
    static let report = #"""
        {{> head}}
        {{> errors}}
        <h1>{{heading}}</h1>
        <p class="lede">How each promise of the service pledge was kept: touchpoint’s own records, no patient named.</p>
        {{#periodNote}}<p class="period-note">{{periodNote}}</p>{{/periodNote}}
        <form class="filters" method="get" action="/report">
        <div class="form-group{{#fromError}} form-group-error{{/fromError}}">
        <label for="from">From</label>
        {{#fromError}}<span class="error-message" id="from-error"><span class="visually-hidden">Error:</span> {{fromError}}</span>{{/fromError}}
        <input type="date" id="from" name="from" value="{{from}}"{{#fromError}} class="input-error" aria-describedby="from-error"{{/fromError}}>
        </div>
        <div class="form-group">
        <label for="to">To</label>
        <input type="date" id="to" name="to" value="{{to}}">
        </div>
        {{#hasWardChoice}}
        <div class="form-group">
        <label for="ward">Ward or clinic</label>
        <select id="ward" name="ward">
        {{#allWards}}<option value="">All wards and clinics</option>{{/allWards}}
        {{#wards}}<option value="{{name}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/wards}}
        </select>
        </div>
        {{/hasWardChoice}}
        <button class="button button-secondary" type="submit">Show the report</button>
        </form>
        <p><a href="/report/leaflet?from={{from}}&amp;to={{to}}">The leaflet for this period: you said, we did</a> (one A4 page for the clinic wall, no ward or patient named)</p>
        <div class="report">
        {{{body}}}
        </div>
        {{> foot}}
        """#

    /// Not found, forbidden, the daemon unreachable: no patient data.
    static let message = #"""
        {{> head}}
        <h1>{{title}}</h1>
        {{#paragraphs}}<p>{{.}}</p>{{/paragraphs}}
        {{#link}}<p><a href="{{href}}">{{text}}</a></p>{{/link}}
        {{> foot}}
        """#
}
