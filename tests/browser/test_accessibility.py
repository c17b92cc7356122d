"""The accessibility check itself: it finds what it should, and the sign-in page passes it."""
import pytest

from tests.browser.accessibility import assert_accessible, violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_check_reports_an_image_without_words_and_an_unlabelled_field(page):
    page.set_content('<html lang="en"><head><title>t</title></head><body><main><h1>Page</h1>'
                     '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><input type="text"></main></body></html>')

    found = {violation["id"] for violation in violations(page)}

    assert {"image-alt", "label"} <= found
    with pytest.raises(AssertionError, match="image-alt"):
        assert_accessible(page)


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 375, "height": 812}])
def test_the_sign_in_page_has_no_violations(page, live_server, viewport):
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/login/")

    assert_accessible(page)
