"""An administrator sets up units and members, then reads the audit log filtered live."""

import pytest

from humas.accounts.models import Invitation, Unit
from humas.accounts.roles import Role
from humas.accounts.testing import make_member, make_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "rumput-basah-jendela-dua"


def test_an_admin_adds_a_unit_invites_a_member_and_filters_the_audit_log(page, artifacts):
    org = make_org("Pemerintah Kabupaten Uji", require_2fa=False)
    make_member(org, "kepala@uji.go.id", Role.ADMIN, password=PASSWORD)

    page.goto("/masuk/")
    page.get_by_label("Alamat e-mail").fill("kepala@uji.go.id")
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_selector("[data-testid=home-title]")

    page.get_by_role("link", name="Unit", exact=True).click()
    page.get_by_role("link", name="Unit baru").click()
    page.get_by_label("Nama").fill("Badan Penanggulangan Bencana Daerah")
    page.get_by_label("Kode").fill("bpbd")
    page.get_by_role("button", name="Simpan").click()
    page.wait_for_selector("text=Badan Penanggulangan Bencana Daerah")
    assert Unit.objects.filter(organisation=org, code="bpbd").exists()

    page.get_by_role("link", name="Anggota", exact=True).click()
    page.get_by_role("link", name="Undang anggota").click()
    page.get_by_label("Alamat e-mail").fill("petugas.bpbd@uji.go.id")
    page.get_by_label("Peran").select_option("unit_agent")
    page.get_by_label("Unit").select_option(label="Badan Penanggulangan Bencana Daerah")
    page.get_by_role("button", name="Kirim undangan").click()
    page.wait_for_selector("text=petugas.bpbd@uji.go.id")
    assert Invitation.objects.filter(organisation=org, email="petugas.bpbd@uji.go.id").exists()

    page.get_by_role("link", name="Log audit").click()
    table = page.get_by_test_id("audit-table")
    assert table.get_by_text("accounts.member.invited").count() == 1
    # Typing in a filter swaps the table through htmx, without a full page load.
    page.evaluate("window.__marker = 'same page'")
    page.locator("input[name=action]").fill("unit.created")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=audit-table]').textContent.includes('member.invited')"
    )
    assert page.evaluate("window.__marker") == "same page"
    assert table.get_by_text("accounts.unit.created").count() == 1
    assert "action=unit.created" in page.url
    page.screenshot(path=str(artifacts / "audit-log-filtered.png"), full_page=True)

    blocked = [m for m in page.console_messages if "Content Security Policy" in m]
    assert blocked == [], blocked
