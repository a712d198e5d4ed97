/// The web view's one stylesheet, served as `/static/app.css` (the pages
/// carry no inline style: the Content-Security-Policy allows this file only).
///
/// The few rules of the NHS design system the pages use, written out (its
/// npm package cannot be installed here): header, table, tag, summary list,
/// radios, error summary, error message, notification banner, button, and
/// the yellow focus style. Text at 19px, targets at least 44px high, status
/// always in words as well as colour, one column at 320px.
enum Stylesheet {
    static let css = #"""
        *, *::before, *::after { box-sizing: border-box; }
        html { -webkit-text-size-adjust: 100%; }
        body { margin: 0; font-family: Arial, "Liberation Sans", "DejaVu Sans", sans-serif; font-size: 1.1875rem; line-height: 1.47;
               color: #212b32; background: #f0f4f5; }
        a { color: #005eb8; text-decoration: underline; text-underline-offset: 0.15em; }
        a:visited { color: #330072; }
        a:hover { color: #7c2855; text-decoration-thickness: 3px; }
        a:focus-visible, button:focus-visible, .button:focus-visible { outline: 4px solid transparent; color: #212b32; background: #ffeb3b;
               box-shadow: 0 -2px #ffeb3b, 0 4px #212b32; text-decoration: none; }
        input:focus-visible, select:focus-visible, textarea:focus-visible { outline: 4px solid #ffeb3b; outline-offset: 0;
               box-shadow: inset 0 0 0 2px #212b32; }
        .skip-link { position: absolute; left: -9999px; top: 0; padding: 12px; background: #ffeb3b; color: #212b32; }
        .skip-link:focus { left: 0; z-index: 10; }
        .visually-hidden { position: absolute !important; width: 1px !important; height: 1px !important; margin: 0 !important;
               padding: 0 !important; overflow: hidden !important; clip: rect(0 0 0 0) !important; clip-path: inset(50%) !important;
               border: 0 !important; white-space: nowrap !important; }

        .header { background: #005eb8; color: #fff; }
        .header-inner { max-width: 1100px; margin: 0 auto; padding: 12px 16px; display: flex; flex-wrap: wrap; align-items: center; gap: 8px 24px; }
        .service { color: #fff; font-weight: bold; font-size: 1.375rem; text-decoration: none; padding: 6px 0; }
        .service:visited, .service:hover { color: #fff; }
        .nav { display: flex; flex-wrap: wrap; gap: 4px 20px; margin: 0; padding: 0; list-style: none; align-items: center; flex: 1; }
        .nav a, .nav a:visited { color: #fff; display: inline-block; padding: 10px 0; min-height: 44px; }
        .nav a[aria-current="page"] { font-weight: bold; }
        .nav a:focus-visible { color: #212b32; }
        .who { margin-left: auto; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
        .who form { margin: 0; }
        .link-button { background: none; border: 0; padding: 10px 0; min-height: 44px; font: inherit; color: #fff; text-decoration: underline;
               cursor: pointer; }

        main { max-width: 1100px; margin: 0 auto; padding: 24px 16px 48px; }
        h1 { font-size: 2rem; line-height: 1.25; margin: 0 0 16px; }
        h2 { font-size: 1.5rem; line-height: 1.3; margin: 32px 0 12px; }
        p { margin: 0 0 16px; }
        .lede { font-size: 1.25rem; }
        .hint { color: #4c6272; margin: 0 0 8px; }

        .table-wrap { overflow-x: auto; background: #fff; border: 1px solid #d8dde0; margin-bottom: 24px; }
        table { width: 100%; border-collapse: collapse; }
        caption { text-align: left; font-weight: bold; padding: 12px 16px 0; }
        th, td { text-align: left; vertical-align: top; padding: 12px 16px; border-bottom: 1px solid #d8dde0; }
        th { font-weight: bold; }
        tbody tr:last-child td { border-bottom: 0; }
        td.phone { white-space: nowrap; }
        .small { font-size: 1rem; }
        @media (max-width: 640px) {
            .table-wrap { border: 0; background: none; overflow: visible; }
            table.responsive thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
            table.responsive tr { display: block; background: #fff; border: 1px solid #d8dde0; margin-bottom: 16px; }
            table.responsive td { display: block; border: 0; padding: 8px 12px; }
            table.responsive td::before { display: block; font-weight: bold; font-size: 1rem; }
            table.calls td:nth-of-type(1)::before { content: "Patient"; }
            table.calls td:nth-of-type(2)::before { content: "Phone"; }
            table.calls td:nth-of-type(3)::before { content: "Status"; }
            table.calls td:nth-of-type(4)::before { content: "Ward and procedure"; }
            table.attempts td:nth-of-type(1)::before { content: "When"; }
            table.attempts td:nth-of-type(2)::before { content: "Who"; }
            table.attempts td:nth-of-type(3)::before { content: "Outcome"; }
            table.attempts td:nth-of-type(4)::before { content: "Note"; }
            h1 { font-size: 1.6rem; }
        }

        .tag { display: inline-block; padding: 2px 8px; border: 1px solid #005eb8; background: #e8edee; color: #212b32; font-weight: bold;
               font-size: 1rem; line-height: 1.4; white-space: nowrap; }
        .tag-due { border-color: #005eb8; background: #dbe8f4; }
        .tag-overdue { border-color: #d5281b; background: #f7d4d1; color: #6b140e; }
        .tag-escalated { border-color: #b35a00; background: #ffdc8e; color: #3d2a00; }
        .tag-retry { border-color: #4c6272; background: #e8edee; }
        .tag-closed { border-color: #007f3b; background: #cce5d8; color: #00401e; }

        .summary-list { margin: 0 0 24px; background: #fff; border: 1px solid #d8dde0; padding: 0 16px; }
        .summary-list div { display: flex; flex-wrap: wrap; border-bottom: 1px solid #d8dde0; padding: 10px 0; }
        .summary-list div:last-child { border-bottom: 0; }
        .summary-list dt { font-weight: bold; flex: 0 0 35%; min-width: 10em; padding-right: 16px; }
        .summary-list dd { margin: 0; flex: 1; min-width: 12em; }

        .form-group { margin-bottom: 24px; }
        .form-group-error { border-left: 4px solid #d5281b; padding-left: 16px; }
        fieldset { border: 0; margin: 0; padding: 0; }
        legend { font-weight: bold; font-size: 1.25rem; margin-bottom: 8px; padding: 0; }
        label { display: block; font-weight: bold; margin-bottom: 4px; }
        .error-message { display: block; color: #d5281b; font-weight: bold; margin-bottom: 8px; }
        input[type="text"], input[type="password"], input[type="date"], select, textarea {
               font: inherit; border: 2px solid #4c6272; background: #fff; color: #212b32; padding: 6px 8px; min-height: 44px;
               width: 100%; max-width: 22em; border-radius: 0; }
        textarea { max-width: 36em; min-height: 6em; }
        .input-error { border-color: #d5281b !important; }
        .radios .radio { display: flex; align-items: flex-start; gap: 12px; margin-bottom: 8px; }
        .radios input[type="radio"] { width: 32px; height: 32px; margin: 4px 0 0; flex: none; accent-color: #212b32; }
        .radios .radio label { font-weight: normal; padding: 6px 0; margin: 0; cursor: pointer; }
        .radios-inline { display: flex; flex-wrap: wrap; gap: 0 24px; }
        .checkbox { display: flex; align-items: flex-start; gap: 12px; }
        .checkbox input[type="checkbox"] { width: 32px; height: 32px; margin: 4px 0 0; flex: none; accent-color: #212b32; }
        .checkbox label { font-weight: normal; padding: 6px 0; margin: 0; cursor: pointer; }
        .tag-need { background: #fff9c4; color: #212b32; border: 1px solid #212b32; }

        .button { display: inline-block; font: inherit; font-weight: bold; color: #fff; background: #007f3b; border: 2px solid transparent;
               border-radius: 4px; box-shadow: 0 4px 0 #00401e; padding: 10px 16px; min-height: 44px; margin: 0 16px 16px 0;
               cursor: pointer; text-decoration: none; }
        .button:visited, .button:hover { color: #fff; }
        .button:hover { background: #00662f; }
        .button-secondary { background: #4c6272; box-shadow: 0 4px 0 #263139; }
        .button-secondary:hover { background: #384853; }
        .filters { display: flex; flex-wrap: wrap; gap: 0 24px; align-items: flex-end; background: #fff; border: 1px solid #d8dde0;
               padding: 16px 16px 0; margin-bottom: 24px; }
        .filters .form-group { margin-bottom: 16px; }
        .filters .button { margin-bottom: 20px; }

        .error-summary { border: 4px solid #d5281b; background: #fff; padding: 16px; margin-bottom: 32px; }
        .error-summary:focus { outline: 4px solid #ffeb3b; }
        .error-summary h2 { margin: 0 0 12px; font-size: 1.5rem; }
        .error-summary ul { margin: 0; padding-left: 0; list-style: none; }
        .error-summary a { color: #d5281b; font-weight: bold; }
        .banner { border: 4px solid #005eb8; background: #fff; margin-bottom: 32px; }
        .banner h2 { margin: 0; padding: 8px 16px; background: #005eb8; color: #fff; font-size: 1.1875rem; }
        .banner p { margin: 0; padding: 16px; }
        .banner-success { border-color: #007f3b; }
        .banner-success h2 { background: #007f3b; }
        .banner-warning { border-color: #d5281b; }
        .banner-warning h2 { background: #d5281b; }
        .inset { border-left: 8px solid #005eb8; background: #fff; padding: 16px; margin-bottom: 24px; }
        .inset p:last-child { margin-bottom: 0; }
        .warning-text { font-weight: bold; color: #6b140e; }

        .report .promise { background: #fff; border: 1px solid #d8dde0; padding: 16px; margin-bottom: 24px; }
        .report h2 { margin-top: 0; font-size: 1.25rem; }
        .report .headline { font-size: 1.375rem; }
        .report table { width: 100%; margin-bottom: 16px; }
        .report th, .report td { padding: 6px 16px 6px 0; }
        .report .report-counts th { font-weight: normal; }
        .report .report-counts td { text-align: right; }
        .report .chart { display: block; max-width: 100%; height: auto; }
        .report figure { margin: 8px 0 16px; }
        .report figcaption { font-size: 1rem; color: #4c6272; }
        .report .tables { display: flex; flex-wrap: wrap; gap: 0 32px; align-items: flex-start; }
        .report .tables table { flex: 1 1 16em; }
        .report caption { text-align: left; font-weight: bold; padding: 0 0 4px; }
        .freshness { color: #4c6272; }
        .stale { display: block; max-height: 0; overflow: hidden; visibility: hidden; color: #6b140e; font-weight: bold;
               animation: stale 1ms linear 300s forwards; }
        @keyframes stale { to { visibility: visible; max-height: 10em; } }
        .footer { max-width: 1100px; margin: 0 auto; padding: 0 16px 32px; color: #4c6272; font-size: 1rem; }
        @media print { .header, .filters, .footer, .button { display: none; } body { background: #fff; } }
        """#
}
