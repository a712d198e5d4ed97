"""The ward nurse's flow through touchpoint-web in a real browser.

Run by the Swift test `BrowserTests` (Tests/TouchpointDaemonTests), which
starts the real touchpointd and touchpoint-web on a scenario built from the
hospital clock and passes their addresses here in the environment. Chromium
and chromedriver are Debian's; Selenium and axe-core come from PyPI
(scripts/setup --browser). Every page, its error states included, is
checked with axe-core at WCAG 2.2 AA and saved as screenshots at 1366x768
and 320 px wide (TP_SCREENSHOTS) for a person to look at.
"""

import json
import re
import time
import os
import subprocess
import sys

from axe_selenium_python import Axe
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.action_chains import ActionChains
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ["TP_BASE"]
ALICE = os.environ["TP_ALICE_PASSWORD"]
BOB = os.environ["TP_BOB_PASSWORD"]
CTL = os.environ["TP_CTL"]
SOCKET = os.environ["TP_SOCKET"]
SHOTS = os.environ["TP_SCREENSHOTS"]



def axe_script():
    """axe-core 4.12 (WCAG 2.2 rules), as the axe-playwright-python wheel
    carries it: axe-selenium-python's own copy is axe-core 3, without them."""
    import importlib.util
    spec = importlib.util.find_spec("axe_playwright_python")
    return os.path.join(list(spec.submodule_search_locations)[0], "axe.min.js")


AXE = os.environ.get("TP_AXE") or axe_script()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

failures = []


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        failures.append(message)


def browser():
    options = webdriver.ChromeOptions()
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,768",
                "--force-device-scale-factor=1", "--lang=en-GB", "--disable-gpu"]:
        options.add_argument(arg)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def job(job_id):
    out = subprocess.run([CTL, "--socket", SOCKET, "job", job_id, "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def audit(driver, name):
    """axe-core at WCAG 2.2 AA, and the page seen at both widths."""
    axe = Axe(driver, script_url=AXE)
    axe.inject()
    results = axe.run(options={"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]})
    violations = [f"{v['id']}: {v['help']} ({len(v['nodes'])}x: {v['nodes'][0]['target']})" for v in results["violations"]]
    check(not violations, f"axe {name}: no violations" + ("" if not violations else f" -> {violations}"))
    check(len(driver.find_elements(By.TAG_NAME, "h1")) == 1, f"{name}: one h1")
    check(driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en-GB", f"{name}: lang en-GB")
    check("touchpoint" in driver.title, f"{name}: a title naming the page ({driver.title})")
    size = driver.get_window_size()
    whole_page(driver, 1366, f"{name}-1366.png")
    driver.set_window_size(320, 800)
    # Reflow at 320 CSS px: nothing needs scrolling sideways.
    width = driver.execute_script("return document.documentElement.scrollWidth")
    check(width <= 320, f"{name}: fits 320 px wide (scroll width {width})")
    whole_page(driver, 320, f"{name}-320.png")
    driver.set_window_size(size["width"], size["height"])


def whole_page(driver, width, file):
    """A screenshot of the whole page at this width, for a person to look at."""
    driver.set_window_size(width, 768)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(768, height + 140))
    driver.save_screenshot(os.path.join(SHOTS, file))


def navigating(driver, action):
    """Does `action` (a click, a key) and waits for the next page."""
    old = driver.find_element(By.TAG_NAME, "html")
    action()

    def gone(_):
        # Chromium says a replaced page's element is stale in more than one way.
        try:
            old.is_enabled()
            return False
        except WebDriverException:
            return True
    WebDriverWait(driver, 20).until(gone)


def click(driver, css):
    navigating(driver, driver.find_element(By.CSS_SELECTOR, css).click)


def sign_in(driver, name, password):
    driver.get(BASE + "/login")
    driver.find_element(By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    click(driver, "button[type=submit]")


def body(driver):
    return driver.find_element(By.TAG_NAME, "body").text


def main():
    os.makedirs(SHOTS, exist_ok=True)
    a, b, k = browser(), browser(), browser()
    try:
        nurse_flow(a, b)
        keyboard_flow(k)
    finally:
        for d in (a, b, k):
            d.quit()
    printable(os.environ.get("TP_REPORT_HTML"))
    print(f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


def nurse_flow(a, b):
    a.get(BASE + "/calls")
    check(a.current_url.endswith("/login"), "no session: the sign-in page")
    audit(a, "login")
    click(a, "button[type=submit]")
    check("There is a problem" in body(a), "empty sign-in: error summary")
    audit(a, "login-error")

    sign_in(a, "alice", ALICE)
    check(a.current_url.endswith("/calls"), "signed in: today's calls")
    text = body(a)
    check("Ann Example" in text and "Cara Sample" in text, "her ward's calls")
    check("Dee Person" not in text, "not another ward's")
    # Communication needs (H-43): a tag beside the patient's name.
    tags = [t.text for t in a.find_elements(By.CSS_SELECTOR, "td .tag-need")]
    check("Interpreter needed (pl)" in tags, "the needs tag on the list")
    # A status warning (H-42, an unassigned call still to make) is a banner on every page.
    banner = a.find_elements(By.CSS_SELECTOR, ".banner-warning")
    check(banner and "unassigned list" in banner[0].text, "the status warning is a banner")
    audit(a, "calls")
    # C-32.1: the list says when it was read and links to itself; the
    # five-minute warning is hidden now and shown once 300 s have passed
    # (the page's own CSS clock, run 1,000 times faster through DevTools).
    check(re.search(r"List as of \d\d:\d\d\.", text) is not None, "the list says when it was read")
    refresh = a.find_element(By.LINK_TEXT, "Refresh the list")
    check(refresh.get_attribute("href").endswith("/calls"), "a refresh link to the same list")
    stale = a.find_element(By.CSS_SELECTOR, ".stale")
    check(not stale.is_displayed() or stale.size["height"] == 0, "no staleness warning on a fresh list")
    a.execute_cdp_cmd("Animation.enable", {})
    a.execute_cdp_cmd("Animation.setPlaybackRate", {"playbackRate": 1000})
    a.refresh()
    time.sleep(1.5)
    stale = a.find_element(By.CSS_SELECTOR, ".stale")
    check(stale.is_displayed() and stale.size["height"] > 0 and "more than 5 minutes old" in stale.text, "after five minutes it says so")
    a.execute_cdp_cmd("Animation.setPlaybackRate", {"playbackRate": 1})

    # A second nurse opens the same call before alice records it.
    sign_in(b, "bob", BOB)
    b.get(BASE + "/calls/call-S1")

    click(a, "a[href='/calls/call-S1']")
    check("/calls/call-S1" in a.current_url, "opened Ann's call")
    check("07700 900123" in body(a), "her phone number")
    audit(a, "call")

    click(a, "form[action$='/outcome'] button[type=submit]")
    check("There is a problem" in body(a) and "Select what happened on the call" in body(a), "no choice: error summary")
    link = a.find_element(By.CSS_SELECTOR, ".error-summary a")
    check(link.get_attribute("href").endswith("#outcome"), "the summary links to the field")
    check(a.title.startswith("Error:"), "the title says there is an error")
    check(job("call-S1")["state"] == "due", "nothing recorded")
    audit(a, "call-error")

    a.find_element(By.CSS_SELECTOR, "label[for=outcome]").click()
    a.find_element(By.CSS_SELECTOR, "label[for=wound-yes]").click()
    click(a, "form[action$='/outcome'] button[type=submit]")
    check(a.current_url.endswith("/calls"), "back on the list")
    check("Ann Example: reached, wound care discussed." in body(a), "the confirmation names the patient and the outcome")
    audit(a, "calls-confirmation")
    recorded = job("call-S1")
    check(recorded["state"] == "done", "the call is done")
    check(recorded["history"][-1]["actor"] == "alice via web", "recorded by alice via web")

    b.find_element(By.CSS_SELECTOR, "label[for=outcome]").click()
    b.find_element(By.CSS_SELECTOR, "label[for=wound-no]").click()
    click(b, "form[action$='/outcome'] button[type=submit]")
    check("Already recorded by alice via web" in body(b), "the second browser is told who recorded it")
    check(len(job("call-S1").get("outcomes", [])) == 1 and job("call-S1")["wound_care"] is True, "and nothing changed")
    audit(b, "call-conflict")

    # A call whose ref has a space: its link is encoded once, and the page
    # it opens takes an outcome (issue 34: the link gave 404).
    b.get(BASE + "/calls")
    click(b, "a[href='/calls/call-S%20PT%20W4']")
    check("Eve Spaced" in body(b) and "/calls/call-S%20PT%20W4" in b.current_url, "a call whose ref has a space opens from its link")
    b.find_element(By.CSS_SELECTOR, "label[for=outcome-declined]").click()
    click(b, "form[action$='/outcome'] button[type=submit]")
    check("Eve Spaced: declined." in body(b), "and takes an outcome, confirmed by name")
    check(job("call-S PT W4")["state"] == "done", "the spaced ref's call is done")
    # The leaflet (issue 33), from the report page, for an account of every ward.
    b.get(BASE + "/report")
    click(b, "a[href^='/report/leaflet']")
    check("You said, we did" in body(b) and "We plan to" in body(b) and "Holistic Needs Assessment" in body(b), "the leaflet, from the report page, with the contacts' promises")
    check("Ward 7" not in body(b) and "Ann Example" not in body(b), "the leaflet names no ward and no patient")
    audit(b, "leaflet")

    a.get(BASE + "/calls/escalated")
    audit(a, "escalated")
    # A ward the hospital never named (H-42): on the unassigned list, which
    # alice sees though her account is Ward 7's, and whose call she can make.
    a.get(BASE + "/calls/unassigned")
    text = body(a)
    check("Unassigned check-in calls" in text and "Gail Unplaced" in text, "the unassigned list, seen by a Ward 7 nurse")
    check("Ann Example" not in text, "only the unassigned calls")
    audit(a, "unassigned")
    click(a, "a[href='/calls/call-S5']")
    check("Gail Unplaced" in body(a), "the unassigned call opens for her")
    a.find_element(By.CSS_SELECTOR, "label[for=outcome-declined]").click()
    click(a, "form[action$='/outcome'] button[type=submit]")
    check(job("call-S5")["state"] == "done", "and takes her outcome")
    a.get(BASE + "/report")
    check("Ward 7" in body(a) and "called on the planned day" in body(a).lower(), "the pledge report, for her ward")
    audit(a, "report")
    a.get(BASE + "/report?from=" + os.environ["TP_REPORT_FROM"] + "&to=" + os.environ["TP_REPORT_TO"])
    check(len(a.find_elements(By.CSS_SELECTOR, "svg.chart")) == 3, "three months: a chart for each promise")
    audit(a, "report-months")
    a.get(BASE + "/calls?list=pre-surgery%20options")
    text = body(a)
    check("Calls on the pre-surgery options list" in text and "Iris Tester" in text, "a configured worklist, with its call")
    check("Ann Example" not in text, "not the check-in calls")
    audit(a, "worklist")
    click(a, "a[href='/calls/reconstruction_options_call-A1-1']")
    check("Iris Tester" in body(a) and "Appointment" in body(a), "the worklist call opens like a check-in call, about its appointment")
    check("wound care" not in body(a).lower(), "no wound care question: that is the check-in call's")
    audit(a, "worklist-call")
    a.find_element(By.CSS_SELECTOR, "label[for=outcome]").click()
    click(a, "form[action$='/outcome'] button[type=submit]")
    check("list=pre-surgery" in a.current_url and "Iris Tester: reached" in body(a), "recorded, and back on its own list")
    check(job("reconstruction_options_call-A1-1")["state"] == "done", "the worklist call is done")
    a.get(BASE + "/calls/call-S1")
    audit(a, "call-closed")
    # Recorded in error (H-45): reopened with a reason, back on the list.
    check("Reopen this call" in body(a), "a call recorded today can be reopened")
    a.find_element(By.ID, "reason").send_keys("recorded on the wrong patient")
    click(a, "form[action$='/reopen'] button[type=submit]")
    check("Call reopened" in body(a) and "Ann Example’s call is back on the list" in body(a), "reopened, confirmed by name")
    check(job("call-S1")["state"] == "due" and job("call-S1")["outcomes"][0].get("withdrawn"), "due again, the outcome withdrawn")
    audit(a, "calls-reopened")
    # A concern (H-44): ticked with reached and a note, it goes to the escalated list.
    a.get(BASE + "/calls/call-S1")
    a.find_element(By.CSS_SELECTOR, "label[for=outcome]").click()
    a.find_element(By.CSS_SELECTOR, "label[for=wound-yes]").click()
    a.find_element(By.CSS_SELECTOR, "label[for=concern]").click()
    a.find_element(By.ID, "note").send_keys("swelling since Sunday")
    click(a, "form[action$='/outcome'] button[type=submit]")
    check("The concern is on the escalated list" in body(a), "the confirmation says where the concern went")
    a.get(BASE + "/calls/escalated")
    check("Concern to follow up" in body(a), "the follow-up on the escalated list")
    click(a, "a[href='/calls/concern-call-S1-1']")
    check("swelling since Sunday" in body(a) and "The patient’s concern" in body(a), "the follow-up says what the concern is")
    audit(a, "concern")
    # Escalations are taken (H-04): "I'll take this", and the list says who has it.
    click(a, "form[action$='/take'] button[type=submit]")
    check("Call taken" in body(a) and "taken by alice via web" in body(a), "taken, and the escalated list says by whom")
    check(job("concern-call-S1-1").get("taken_by") == "alice via web", "recorded as hers")
    audit(a, "escalated-taken")
    a.get(BASE + "/calls/call-S8")
    check("Communication needs" in body(a) and "Interpreter needed (pl)" in body(a), "the needs on the call page")
    audit(a, "call-needs")
    a.get(BASE + "/print")
    check("Cara Sample" in body(a), "the print page")
    a.get(BASE + "/no-such-page")
    audit(a, "not-found")

    a.get(BASE + "/calls")
    click(a, ".who button")
    check("You have signed out" in body(a), "signed out")
    audit(a, "signed-out")
    a.back()
    check("Cara Sample" not in body(a) and "/login" in a.current_url, "back after sign-out shows no patient")
    a.get(BASE + "/calls")
    check("/login" in a.current_url, "the session is over")


def keyboard_flow(k):
    """The whole flow with the keyboard alone: Tab, type, arrows, Enter."""
    k.get(BASE + "/login")
    keys = ActionChains(k)

    def tab_to(predicate, what, limit=60):
        for _ in range(limit):
            ActionChains(k).send_keys(Keys.TAB).perform()
            el = k.switch_to.active_element
            if predicate(el):
                return el
        check(False, f"keyboard: reached {what}")
        return None

    user = tab_to(lambda e: e.get_attribute("id") == "username", "the username")
    focus_style(k, "input")
    navigating(k, lambda: keys.send_keys("alice").send_keys(Keys.TAB).send_keys(ALICE).send_keys(Keys.ENTER).perform())
    check(k.current_url.endswith("/calls"), "keyboard: signed in")
    link = tab_to(lambda e: "Record outcome" in (e.text or "") and "Cara" in (e.get_attribute("textContent") or ""), "Cara's call")
    focus_style(k, "link")
    navigating(k, lambda: ActionChains(k).send_keys(Keys.ENTER).perform())
    check("/calls/call-S2" in k.current_url, "keyboard: opened Cara's call")
    tab_to(lambda e: e.get_attribute("name") == "outcome", "the outcome radios")
    ActionChains(k).send_keys(Keys.ARROW_DOWN).perform()  # reached -> no answer
    check(k.switch_to.active_element.get_attribute("value") == "no_answer", "keyboard: chose no answer")
    tab_to(lambda e: e.tag_name == "button" and "Record" in e.text, "the button")
    focus_style(k, "button")
    navigating(k, lambda: ActionChains(k).send_keys(Keys.ENTER).perform())
    check("Cara Sample: no answer." in body(k), "keyboard: recorded, with the confirmation")
    check(job("call-S2")["outcomes"][-1]["by"] == "alice via web", "keyboard: in alice's name")


def printable(path):
    """The report as touchpointctl prints it (one page), seen as a manager would."""
    if not path:
        return
    d = browser()
    try:
        d.get("file://" + path)
        check("Pledge report" in body(d), "the printable report opens")
        audit(d, "report-print")
    finally:
        d.quit()


def focus_style(driver, what):
    """Focus is visible: the NHS yellow, or an outline."""
    style = driver.execute_script(
        "const s = getComputedStyle(document.activeElement);"
        "return [s.backgroundColor, s.outlineStyle, s.outlineColor, s.boxShadow].join(' | ');")
    check("255, 235, 59" in style, f"keyboard: the focused {what} is visibly marked ({style})")


if __name__ == "__main__":
    main()
