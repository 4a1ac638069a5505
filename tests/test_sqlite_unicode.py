"""«весен» finds «Весенняя» on SQLite (the embedded demo) as it does on PostgreSQL."""

import sqlite3

from config.sqlite_unicode import install, unicode_like


class FakeConnection:
    vendor = "sqlite"

    def __init__(self):
        self.connection = sqlite3.connect(":memory:")


def test_sqlite_like_folds_cyrillic_case_and_keeps_wildcards_and_escapes():
    connection = FakeConnection()
    install(sender=None, connection=connection)
    db = connection.connection
    db.execute("create table c (name text)")
    db.executemany("insert into c values (?)", [("Весенняя рассылка",), ("Осенняя",), ("100% скидка",), ("Ё_ж",)])

    def found(pattern):
        return [
            row[0] for row in db.execute(r"select name from c where name like ? escape '\' order by name", [pattern])
        ]

    assert found("%весен%") == ["Весенняя рассылка"]
    assert found("%ЕННЯЯ%") == ["Весенняя рассылка", "Осенняя"]
    assert found(r"%100\%%") == ["100% скидка"]
    assert found(r"ё\_%") == ["Ё_ж"] and found("ё_ж") == ["Ё_ж"]
    assert unicode_like(None, "x") is None
