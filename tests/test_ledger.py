"""The service's ledger file, as a reader running beside the service sees it."""

from __future__ import annotations

import sqlite3
import threading

from course.service.ledger import Ledger


def test_a_reader_never_finds_the_ledger_without_its_tables(tmp_path):
    # `course status` and the tests open the ledger read-only while the service starts; a file
    # they can see must already hold its schema, or they fail with "no such table: attempts".
    misses: list[str] = []
    for k in range(150):
        path = tmp_path / f"ledger-{k}.sqlite"
        seen = threading.Event()

        def read(path=path, seen=seen) -> None:
            while not path.exists():
                pass
            try:
                reader = Ledger(path, readonly=True)
                try:
                    reader.all()
                finally:
                    reader.close()
            except sqlite3.OperationalError as err:
                misses.append(str(err))
            seen.set()

        watcher = threading.Thread(target=read)
        watcher.start()
        Ledger(path).close()
        watcher.join(timeout=30)
        assert seen.is_set()
    assert misses == []


def test_a_second_service_keeps_the_first_ones_ledger(tmp_path):
    path = tmp_path / "ledger.sqlite"
    first = Ledger(path)
    with first.tx() as db:
        db.execute("INSERT INTO service (key, value, at) VALUES ('owner', 'first', 0)")
    second = Ledger(path)
    assert second.setting("owner")[0] == "first"
    first.close(), second.close()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == ["ledger.sqlite"]
