//! The ledger's schema: its migrations, in order.

/// Migrations, in order; the schema version is their count.
pub(super) const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE files (
        id              INTEGER PRIMARY KEY,
        route           TEXT NOT NULL,
        name            TEXT NOT NULL,
        size            INTEGER NOT NULL,
        sha256          TEXT,
        state           TEXT NOT NULL,
        claimed_at      INTEGER NOT NULL,
        output_size     INTEGER,
        output_sha256   TEXT,
        output_name     TEXT,
        final_path      TEXT,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_error      TEXT,
        report          TEXT,
        finished_at     INTEGER
    );
    CREATE INDEX files_by_route_state ON files(route, state);
    CREATE INDEX files_by_route_hash ON files(route, sha256);
    CREATE INDEX files_by_finish ON files(route, finished_at);
",
    "
    ALTER TABLE files ADD COLUMN rejected_path TEXT;
",
    "
    CREATE TABLE control_numbers (
        key         TEXT PRIMARY KEY,
        interchange INTEGER NOT NULL,
        grp         INTEGER NOT NULL
    );
",
    "
    CREATE TABLE sent_groups (
        partner         TEXT NOT NULL,
        grp             INTEGER NOT NULL,
        file_id         INTEGER NOT NULL,
        functional_id   TEXT NOT NULL,
        sets            INTEGER NOT NULL DEFAULT 0,
        due_ms          INTEGER,
        ack_status      TEXT,
        acknowledged_at INTEGER,
        ack_file        TEXT,
        PRIMARY KEY (partner, grp)
    );
    CREATE INDEX sent_groups_by_file ON sent_groups(file_id);
    CREATE TABLE sent_sets (
        partner    TEXT NOT NULL,
        grp        INTEGER NOT NULL,
        control    TEXT NOT NULL,
        set_id     TEXT NOT NULL,
        reference  TEXT,
        ack_status TEXT,
        ack_codes  TEXT,
        PRIMARY KEY (partner, grp, control)
    );
",
    "
    CREATE TABLE side_files (
        file_id INTEGER NOT NULL,
        kind    TEXT NOT NULL,
        path    TEXT NOT NULL,
        done    INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (file_id, kind)
    );
    CREATE TABLE reconciliations (
        file_id        INTEGER PRIMARY KEY,
        route          TEXT NOT NULL,
        at             INTEGER NOT NULL,
        cart_export    TEXT NOT NULL,
        compared       INTEGER NOT NULL,
        differences    INTEGER NOT NULL,
        cart_only      INTEGER NOT NULL,
        warehouse_only INTEGER NOT NULL
    );
",
    // 5: endpoints paused after the server refused cartferry, so that every process (a `once`
    // from cron as much as the service) waits the pause out.
    "
    CREATE TABLE endpoint_pauses (
        server    TEXT PRIMARY KEY,
        until     INTEGER NOT NULL,
        refusals  INTEGER NOT NULL,
        message   TEXT NOT NULL
    );
",
    // 6: what a delivered file's documents were sent without (optional values that could not
    // be read), one line for `status`.
    "
    ALTER TABLE files ADD COLUMN warnings TEXT;
",
    // 7: the order ledger: every document a route delivers or records, by the order it
    // concerns, counted as sent once its file is delivered; and resends asked for by `retry`.
    "
    CREATE TABLE order_events (
        id          INTEGER PRIMARY KEY,
        order_key   TEXT NOT NULL,
        order_id    TEXT NOT NULL,
        kind        TEXT NOT NULL,
        outcome     TEXT NOT NULL,
        file_id     INTEGER NOT NULL,
        destination TEXT NOT NULL,
        content     TEXT,
        detail      TEXT,
        due_ms      INTEGER,
        at_ms       INTEGER NOT NULL
    );
    CREATE INDEX order_events_by_key ON order_events(order_key, kind);
    CREATE INDEX order_events_by_file ON order_events(file_id);
    CREATE INDEX order_events_due ON order_events(at_ms) WHERE due_ms IS NOT NULL;
    CREATE TABLE resend_requests (
        id           INTEGER PRIMARY KEY,
        route        TEXT NOT NULL,
        name         TEXT NOT NULL,
        requested_at INTEGER NOT NULL,
        file_id      INTEGER
    );
",
    // 8: a file's order events are found from the first one's id (kept with the file) rather
    // than by an index on the file, which cost every event an index insert.
    "
    ALTER TABLE files ADD COLUMN order_events_from INTEGER;
    UPDATE files SET order_events_from =
        (SELECT min(e.id) FROM order_events e WHERE e.file_id = files.id);
    DROP INDEX order_events_by_file;
",
    // 9: the alerts' outbox: events written in the transaction of the step that caused them
    // (once for those found by looking, by their key), each channel's place in them and its
    // faults, the events a channel has still to say, and the messages it sent (for digests and
    // its hourly limit); and the row health checks write to learn that the ledger takes writes.
    "
    CREATE TABLE alert_events (
        id      INTEGER PRIMARY KEY,
        kind    TEXT NOT NULL,
        subject TEXT NOT NULL,
        key     TEXT UNIQUE,
        body    TEXT NOT NULL,
        at_ms   INTEGER NOT NULL
    );
    CREATE INDEX alert_events_by_subject ON alert_events(subject, kind);
    CREATE TABLE alert_channels (
        name        TEXT PRIMARY KEY,
        cursor      INTEGER NOT NULL,
        failures    INTEGER NOT NULL DEFAULT 0,
        next_try_ms INTEGER,
        last_error  TEXT,
        sent        INTEGER NOT NULL DEFAULT 0,
        failed      INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE alert_due (
        channel  TEXT NOT NULL,
        event_id INTEGER NOT NULL,
        PRIMARY KEY (channel, event_id)
    ) WITHOUT ROWID;
    CREATE TABLE alert_messages (
        id          INTEGER PRIMARY KEY,
        channel     TEXT NOT NULL,
        kind        TEXT NOT NULL,
        subject     TEXT NOT NULL,
        events      INTEGER NOT NULL,
        first_event INTEGER NOT NULL,
        sent_at_ms  INTEGER NOT NULL
    );
    CREATE INDEX alert_messages_by_channel ON alert_messages(channel, sent_at_ms);
    CREATE TABLE write_probe (
        id    INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL
    );
",
    // 10: the orders that may be late, so that finding the late ones reads these instead of
    // every order ever sent (3.5 s on a ledger of 1,000,000 orders, at every scrape and
    // `status`). Kept by triggers: an order sent with a due time enters; its record forgotten,
    // or a shipment or cancellation of its order delivered, it leaves. The late-order query
    // still checks each against the order's whole history (a shipment delivered before it).
    "
    CREATE TABLE orders_awaiting (
        event_id   INTEGER PRIMARY KEY,
        order_key  TEXT NOT NULL,
        late_at_ms INTEGER NOT NULL
    );
    CREATE INDEX orders_awaiting_by_late ON orders_awaiting(late_at_ms);
    CREATE INDEX orders_awaiting_by_key ON orders_awaiting(order_key);
    INSERT INTO orders_awaiting (event_id, order_key, late_at_ms)
        SELECT e.id, e.order_key, e.at_ms + e.due_ms FROM order_events e
        WHERE e.kind = 'order' AND e.outcome IN ('sent', 'resent') AND e.due_ms IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM order_events s JOIN files sf ON sf.id = s.file_id
            WHERE s.order_key = e.order_key AND s.kind IN ('shipment', 'cancel')
              AND s.outcome IN ('sent', 'resent') AND sf.state IN ('delivered', 'done'));
    CREATE TRIGGER order_awaits AFTER INSERT ON order_events
    WHEN NEW.kind = 'order' AND NEW.due_ms IS NOT NULL AND NEW.outcome IN ('sent', 'resent')
    BEGIN
        INSERT INTO orders_awaiting (event_id, order_key, late_at_ms)
        VALUES (NEW.id, NEW.order_key, NEW.at_ms + NEW.due_ms);
    END;
    CREATE TRIGGER order_forgotten AFTER DELETE ON order_events
    WHEN OLD.kind = 'order' AND OLD.due_ms IS NOT NULL
    BEGIN
        DELETE FROM orders_awaiting WHERE event_id = OLD.id;
    END;
    CREATE TRIGGER orders_settled AFTER UPDATE OF state ON files
    WHEN NEW.state IN ('delivered', 'done') AND OLD.state NOT IN ('delivered', 'done')
         AND NEW.order_events_from IS NOT NULL
    BEGIN
        DELETE FROM orders_awaiting WHERE order_key IN (
            SELECT s.order_key FROM order_events s
            WHERE s.id >= NEW.order_events_from AND s.file_id = NEW.id
              AND s.kind IN ('shipment', 'cancel') AND s.outcome IN ('sent', 'resent'));
    END;
",
];
