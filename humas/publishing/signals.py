"""Demo content for the publishing app, added when ``humas seeddemo`` runs."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from humas.accounts.audit import Actor
from humas.accounts.models import Organisation
from humas.accounts.signals import demo_seeded
from humas.publishing.actions import save_pillar
from humas.publishing.models import Pillar

# The demo's content pillars: what a city's Humas typically talks about, with a target mix.
PILLARS = [
    ("Layanan publik", "#2563eb", 35, "Jadwal, syarat dan cara mengurus layanan"),
    ("Edukasi kesehatan", "#16a34a", 20, "Posyandu, imunisasi, pola hidup sehat"),
    ("Di balik layar", "#9333ea", 15, "Kerja petugas dan unit layanan"),
    ("Capaian", "#ea580c", 15, "Hasil program dan penghargaan"),
    ("Info kedaruratan", "#dc2626", 15, "Peringatan dini, banjir, cuaca ekstrem"),
]


@receiver(demo_seeded)
def add_demo_pillars(sender: Any, organisation: Organisation, by: Actor, **kwargs: Any) -> None:
    existing = set(Pillar.objects.filter(organisation=organisation).values_list("name", flat=True))
    for name, colour, share, description in PILLARS:
        if name not in existing:
            save_pillar(
                organisation,
                by=by,
                name=name,
                colour=colour,
                target_share=share,
                description=description,
            )
