from lantian.catalog.glossary import glossary, wide_columns
from lantian.store.db import connect, pending_migrations


def test_new_database_is_migrated(db_path):
    con = connect(db_path)
    assert pending_migrations(con) == []
    cols = {r[0] for r in con.execute("DESCRIBE flue_minute").fetchall()}
    for entry in glossary():
        for col in wide_columns(entry).values():
            assert col in cols, col


def test_reopen_applies_nothing_twice(db_path):
    connect(db_path).close()
    con = connect(db_path)
    n = con.execute("SELECT count(*) FROM schema_migration").fetchone()[0]
    assert n == len({r for r in con.execute("SELECT name FROM schema_migration").fetchall()})


def test_glossary_maps_2005_codes_to_2017():
    from lantian.catalog.glossary import by_code

    assert by_code()["02"].code_2017 == "a21026"
    assert by_code()["a21026"].column == "so2_mg_m3"
    assert by_code()["B02"].key == "flow"
