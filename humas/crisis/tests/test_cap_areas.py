"""Area matching: plain geometry on (lat, lon) points and tolerant place names."""

from __future__ import annotations

from pathlib import Path

from humas.crisis import areas, cap
from humas.crisis.cap import Area, Circle

SQUARE = [(-7.0, 107.0), (-7.0, 108.0), (-6.0, 108.0), (-6.0, 107.0), (-7.0, 107.0)]


def test_a_point_inside_the_polygon_is_inside():
    assert areas.point_in_polygon((-6.5, 107.5), SQUARE)


def test_a_point_outside_the_polygon_is_outside():
    assert not areas.point_in_polygon((-5.5, 107.5), SQUARE)
    assert not areas.point_in_polygon((-6.5, 108.5), SQUARE)


def test_a_point_in_the_notch_of_a_concave_polygon_is_outside():
    u_shape = [(0, 0), (0, 3), (3, 3), (3, 2), (1, 2), (1, 1), (3, 1), (3, 0)]
    assert not areas.point_in_polygon((2, 1.5), u_shape)
    assert areas.point_in_polygon((0.5, 1.5), u_shape)


def test_a_polygon_inside_another_overlaps_it_either_way():
    small = [(-6.6, 107.4), (-6.6, 107.6), (-6.4, 107.6), (-6.4, 107.4)]
    assert areas.polygons_overlap(small, SQUARE)
    assert areas.polygons_overlap(SQUARE, small)


def test_crossing_polygons_with_no_vertex_inside_the_other_overlap():
    # A plus sign: each bar's corners lie outside the other bar.
    across = [(-6.6, 106.5), (-6.6, 108.5), (-6.4, 108.5), (-6.4, 106.5)]
    upright = [(-7.5, 107.4), (-7.5, 107.6), (-5.5, 107.6), (-5.5, 107.4)]
    assert areas.polygons_overlap(across, upright)


def test_separate_polygons_do_not_overlap():
    far = [(-5.1, 119.4), (-5.1, 119.5), (-5.2, 119.5), (-5.2, 119.4)]
    assert not areas.polygons_overlap(far, SQUARE)


def test_a_circle_reaching_the_polygons_edge_overlaps_it():
    # 0.1° of latitude is about 11 km.
    assert areas.circle_overlaps_polygon(Circle((-5.9, 107.5), 12), SQUARE)
    assert not areas.circle_overlaps_polygon(Circle((-5.9, 107.5), 10), SQUARE)


def test_a_circle_centred_inside_the_polygon_overlaps_it():
    assert areas.circle_overlaps_polygon(Circle((-6.5, 107.5), 0.1), SQUARE)


def test_place_names_match_whatever_the_administrative_prefix():
    assert areas.names_match(["Kabupaten Bandung"], ["Kab. Bandung"])
    assert areas.names_match(["Kec. Cicalengka, Kec. Rancaekek"], ["cicalengka"])
    assert areas.names_match(["KOTA MAKASSAR"], ["Makassar"])
    assert areas.names_match(["Jakarta Pusat"], ["Kota Adm. Jakarta Pusat"])


def test_place_names_match_whole_words_only():
    assert not areas.names_match(["Kabupaten Bandung Barat"], ["Kota Banjar"])
    assert not areas.names_match(["Kabupaten Bandung Barat"], ["Bandung Timur"])
    assert not areas.names_match(["Sumbawa Barat"], ["Bawa"])


def test_no_configured_place_matches_nothing():
    assert not areas.names_match(["Bandung"], [])
    assert not areas.names_match(["Bandung"], ["Kab."])


def test_a_geocode_value_can_match_a_place():
    area = Area(desc="Wilayah 3", geocodes=(("KAB", "Kab. Garut"),))
    assert areas.area_matches(area, ["Garut"], [])


def test_a_bmkg_alert_matches_by_polygon_when_its_description_names_only_the_province():
    data = (Path(__file__).resolve().parent / "fixtures" / "bmkg_style.xml").read_bytes()
    alert = cap.parse(data)
    cicalengka = [(-6.96, 107.80), (-6.96, 107.82), (-6.99, 107.82), (-6.99, 107.80)]
    assert areas.alert_matches(alert, ["Kab. Bandung"], cicalengka)
    assert not areas.alert_matches(alert, ["Kab. Bandung"], [])
    assert areas.alert_matches(alert, ["Provinsi Jawa Barat"], [])


def test_the_merapi_circle_matches_a_nearby_kecamatan_polygon():
    data = (Path(__file__).resolve().parent / "fixtures" / "circle.xml").read_bytes()
    alert = cap.parse(data)
    near = [(-7.60, 110.40), (-7.60, 110.50), (-7.65, 110.50), (-7.65, 110.40)]
    far = [(-6.20, 106.80), (-6.20, 106.90), (-6.30, 106.90), (-6.30, 106.80)]
    assert areas.alert_matches(alert, [], near)
    assert not areas.alert_matches(alert, [], far)
