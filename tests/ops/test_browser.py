"""The dashboard in a real browser: headless Chromium (Debian's chromium and chromium-driver,
installed by ``scripts/ensure_system_packages.sh``) driven by Selenium. An operator logs in
through the admin's login page, opens /ops/, and the charts and numbers are there."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from tests.ops.conftest import OPERATOR_PASSWORD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver "
                       "(scripts/ensure_system_packages.sh installs them)"),
]


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ops-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1400,2000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_the_dashboard_shows_its_charts_and_numbers_in_chromium(live_server, browser, invested, operator):
    from selenium.webdriver.common.by import By

    # given an operator logged in through the admin's login form
    browser.get(f"{live_server.url}/admin/login/?next=/ops/")
    browser.find_element(By.NAME, "username").send_keys(operator.email)
    browser.find_element(By.NAME, "password").send_keys(OPERATOR_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # when the dashboard has loaded (the click only starts the navigation: wait for it, or the
    # URL read can still be the login page's)
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(expected_conditions.url_to_be(f"{live_server.url}/ops/"))
    assert browser.current_url == f"{live_server.url}/ops/"
    # then every chart is a decoded image
    charts = browser.find_elements(By.CSS_SELECTOR, "img[data-chart]")
    assert sorted(c.get_attribute("data-chart") for c in charts) == ["alerts", "aum", "cycles"]
    for chart in charts:
        width = browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", chart)
        assert width and width > 100, chart.get_attribute("data-chart")
    # and the numbers are there, linked to the admin
    figure = {e.get_attribute("data-figure"): e for e in browser.find_elements(By.CSS_SELECTOR, "[data-figure]")}
    assert figure["cycle_rebalance"].text == "1"
    assert figure["decisions_executed"].text == "1"
    assert figure["kill_switch"].text == "off"
    assert float(figure["aum"].text.replace(",", "")) > 99_000
    assert "/admin/autopilot/cyclerun/" in figure["cycle_rebalance"].get_attribute("href")
    # and a number opens its admin list
    figure["cycle_rebalance"].click()
    WebDriverWait(browser, 30).until(expected_conditions.url_contains("/admin/autopilot/cyclerun/"))
    assert "/admin/autopilot/cyclerun/" in browser.current_url
    assert "1 cycle run" in browser.page_source


def test_an_investor_in_chromium_is_sent_to_the_admin_login(live_server, browser, investor):
    browser.get(f"{live_server.url}/ops/")
    assert browser.current_url.startswith(f"{live_server.url}/admin/login/")
