//! The store: every report mxdoctor keeps (the web page's permalinks, the scanner's history) in
//! one SQLite file. WAL journaling, so readers never wait for the writer; the schema carries
//! its version (`PRAGMA user_version`) and is brought up to date on open, one migration at a
//! time, each in its own transaction. Time is given by the caller, never read here.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

/// Migrations in order; the schema version is the number applied. Never edit one that has
/// shipped: add the next.
const MIGRATIONS: &[&str] = &[
    // 1: reports by id, time and target.
    "CREATE TABLE reports (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        command TEXT NOT NULL,
        target TEXT NOT NULL,
        verdict TEXT NOT NULL,
        json TEXT NOT NULL
    );
    CREATE INDEX reports_by_time ON reports (created_at);
    CREATE INDEX reports_by_target ON reports (target, created_at);",
    // 2: scan runs (mxdoctor scan --store); a report may belong to one, with its findings as
    // `id severity` lines so history and diff never parse the JSON.
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        label TEXT NOT NULL
    );
    ALTER TABLE reports ADD COLUMN run_id INTEGER REFERENCES runs (id);
    ALTER TABLE reports ADD COLUMN findings TEXT NOT NULL DEFAULT '';
    CREATE INDEX reports_by_run ON reports (run_id, target);",
];

/// Largest report kept (a report is a few KiB; this bounds a hostile or runaway one).
pub const MAX_REPORT_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("the store's schema is version {found}, newer than this mxdoctor knows ({known})")]
    NewerSchema { found: i64, known: usize },
    #[error("a report of {size} bytes is larger than the store keeps ({MAX_REPORT_BYTES})")]
    TooLarge { size: usize },
    #[error("no random source for a report id")]
    Random,
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// A report id: 128 random bits in hex, unguessable, so a permalink shows only what was shared.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReportId(String);

impl ReportId {
    /// An id as given in a URL: 32 lower-case hex digits, else None.
    pub fn parse(s: &str) -> Option<ReportId> {
        (s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .then(|| ReportId(s.to_string()))
    }

    /// A new random id (for a report that is still being made: its permalink is known first).
    pub fn generate() -> Result<ReportId, StoreError> {
        ReportId::random()
    }

    fn random() -> Result<ReportId, StoreError> {
        let mut bytes = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).map_err(|_| StoreError::Random)?;
        Ok(ReportId(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ReportId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A report to keep: the command that made it, its target, its verdict id and the JSON.
#[derive(Debug, Clone)]
pub struct NewReport<'a> {
    pub command: &'a str,
    pub target: &'a str,
    pub verdict: &'a str,
    pub json: &'a str,
    pub created_at: OffsetDateTime,
}

/// A kept report.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReport {
    pub id: ReportId,
    pub created_at: OffsetDateTime,
    pub command: String,
    pub target: String,
    pub verdict: String,
    pub json: String,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (or creates) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        // A store from a newer mxdoctor is refused before anything is written to it (switching
        // to WAL already changes the file's header).
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > MIGRATIONS.len() as i64 {
            return Err(StoreError::NewerSchema {
                found,
                known: MIGRATIONS.len(),
            });
        }
        // WAL: readers (the page) never wait for the writer (a check finishing).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Store::prepared(conn)
    }

    /// A store in memory, gone when dropped (tests, a server run without `--store`).
    pub fn in_memory() -> Result<Store, StoreError> {
        Store::prepared(Connection::open_in_memory()?)
    }

    fn prepared(conn: Connection) -> Result<Store, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    /// The schema version: the number of migrations applied.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found = self.schema_version()?;
        if found > MIGRATIONS.len() as i64 {
            return Err(StoreError::NewerSchema {
                found,
                known: MIGRATIONS.len(),
            });
        }
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (n + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Keeps a report; returns its new id.
    pub fn save(&self, report: &NewReport<'_>) -> Result<ReportId, StoreError> {
        let id = ReportId::random()?;
        self.save_as(&id, report)?;
        Ok(id)
    }

    /// Keeps a report under an id given out before it was made ([`ReportId::generate`]).
    pub fn save_as(&self, id: &ReportId, report: &NewReport<'_>) -> Result<(), StoreError> {
        if report.json.len() > MAX_REPORT_BYTES {
            return Err(StoreError::TooLarge {
                size: report.json.len(),
            });
        }
        self.conn.execute(
            "INSERT INTO reports (id, created_at, command, target, verdict, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id.as_str(),
                report.created_at.unix_timestamp(),
                report.command,
                report.target,
                report.verdict,
                report.json
            ],
        )?;
        Ok(())
    }

    /// The report with this id, if kept.
    pub fn get(&self, id: &ReportId) -> Result<Option<StoredReport>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, created_at, command, target, verdict, json FROM reports WHERE id = ?1",
                params![id.as_str()],
                row_to_report,
            )
            .optional()?)
    }

    /// The newest reports, of one target or of all, newest first.
    pub fn recent(&self, target: Option<&str>, limit: usize) -> Result<Vec<StoredReport>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare(
            "SELECT id, created_at, command, target, verdict, json FROM reports
             WHERE ?1 IS NULL OR target = ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![target, limit], row_to_report)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Forgets every report made before `cutoff` (the retention period); returns how many.
    pub fn purge_before(&self, cutoff: OffsetDateTime) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM reports WHERE created_at < ?1",
            params![cutoff.unix_timestamp()],
        )?)
    }
}

/// A scan run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: i64,
    pub started_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    pub label: String,
    pub reports: i64,
}

/// One domain's result in a run, without its JSON: what history and diff compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    pub run: i64,
    pub target: String,
    pub verdict: String,
    /// `id severity` lines, sorted.
    pub findings: String,
}

fn time_of(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Store {
    /// Starts a scan run; returns its number.
    pub fn start_run(&self, label: &str, at: OffsetDateTime) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO runs (started_at, label) VALUES (?1, ?2)",
            params![at.unix_timestamp(), label],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish_run(&self, run: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE runs SET finished_at = ?1 WHERE id = ?2",
            params![at.unix_timestamp(), run],
        )?;
        Ok(())
    }

    /// Keeps a report as part of `run`, with its findings summary.
    pub fn save_in_run(&self, run: i64, report: &NewReport<'_>, findings: &str) -> Result<ReportId, StoreError> {
        let id = self.save(report)?;
        self.conn.execute(
            "UPDATE reports SET run_id = ?1, findings = ?2 WHERE id = ?3",
            params![run, findings, id.as_str()],
        )?;
        Ok(id)
    }

    /// Every run, oldest first, with its number of reports.
    pub fn runs(&self) -> Result<Vec<Run>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT r.id, r.started_at, r.finished_at, r.label, (SELECT COUNT(*) FROM reports WHERE run_id = r.id)
             FROM runs r ORDER BY r.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Run {
                id: r.get(0)?,
                started_at: time_of(r.get(1)?),
                finished_at: r.get::<_, Option<i64>>(2)?.map(time_of),
                label: r.get(3)?,
                reports: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The results of one run, by target (a streaming callback: a run may hold 100,000).
    pub fn for_each_result(&self, run: i64, mut f: impl FnMut(RunResult)) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT run_id, target, verdict, findings FROM reports WHERE run_id = ?1 ORDER BY target")?;
        let mut rows = stmt.query(params![run])?;
        while let Some(r) = rows.next()? {
            f(RunResult {
                run: r.get(0)?,
                target: r.get(1)?,
                verdict: r.get(2)?,
                findings: r.get(3)?,
            });
        }
        Ok(())
    }

    /// One target's results in every run, oldest first.
    pub fn history(&self, target: &str) -> Result<Vec<(Run, RunResult)>, StoreError> {
        let runs = self.runs()?;
        let mut stmt = self.conn.prepare(
            "SELECT run_id, target, verdict, findings FROM reports WHERE target = ?1 AND run_id IS NOT NULL
             ORDER BY run_id, created_at",
        )?;
        let rows = stmt.query_map(params![target], |r| {
            Ok(RunResult {
                run: r.get(0)?,
                target: r.get(1)?,
                verdict: r.get(2)?,
                findings: r.get(3)?,
            })
        })?;
        let mut out = Vec::new();
        for row in rows {
            let row = row?;
            if let Some(run) = runs.iter().find(|r| r.id == row.run) {
                out.push((run.clone(), row));
            }
        }
        Ok(out)
    }
}

fn row_to_report(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredReport> {
    let at: i64 = r.get(1)?;
    Ok(StoredReport {
        id: ReportId(r.get(0)?),
        created_at: OffsetDateTime::from_unix_timestamp(at).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        command: r.get(2)?,
        target: r.get(3)?,
        verdict: r.get(4)?,
        json: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn report<'a>(target: &'a str, at: OffsetDateTime) -> NewReport<'a> {
        NewReport {
            command: "check",
            target,
            verdict: "verdict.domain.accept",
            json: r#"{"schema_version":1}"#,
            created_at: at,
        }
    }

    #[test]
    fn kept_by_id_listed_by_time_purged_by_retention() {
        let store = Store::in_memory().unwrap();
        let a = store
            .save(&report("a.example", datetime!(2026-11-01 0:00 UTC)))
            .unwrap();
        let b = store
            .save(&report("b.example", datetime!(2026-11-20 0:00 UTC)))
            .unwrap();
        assert_ne!(a, b);
        let got = store.get(&a).unwrap().unwrap();
        assert_eq!(
            (got.target.as_str(), got.created_at),
            ("a.example", datetime!(2026-11-01 0:00 UTC))
        );
        let recent: Vec<String> = store.recent(None, 10).unwrap().into_iter().map(|r| r.target).collect();
        assert_eq!(recent, ["b.example", "a.example"]);
        assert_eq!(store.recent(Some("a.example"), 10).unwrap().len(), 1);
        assert_eq!(store.purge_before(datetime!(2026-11-10 0:00 UTC)).unwrap(), 1);
        assert!(store.get(&a).unwrap().is_none());
        assert!(store.get(&b).unwrap().is_some());
    }

    #[test]
    fn ids_are_unguessable_hex_and_parsed_strictly() {
        let store = Store::in_memory().unwrap();
        let id = store.save(&report("a.example", OffsetDateTime::UNIX_EPOCH)).unwrap();
        assert_eq!(ReportId::parse(id.as_str()), Some(id.clone()));
        assert!(ReportId::parse("../../etc/passwd").is_none());
        assert!(ReportId::parse(&id.as_str().to_uppercase()).is_none());
        assert!(store.get(&ReportId::parse(&"0".repeat(32)).unwrap()).unwrap().is_none());
    }

    #[test]
    fn a_file_store_is_wal_migrated_once_and_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mxdoctor.sqlite");
        let id = {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
            let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
            assert_eq!(mode, "wal");
            store.save(&report("a.example", OffsetDateTime::UNIX_EPOCH)).unwrap()
        };
        let again = Store::open(&path).unwrap();
        assert!(
            again.get(&id).unwrap().is_some(),
            "kept across opens, migrations not re-run"
        );
    }

    #[test]
    fn runs_keep_results_for_history_and_diff() {
        let store = Store::in_memory().unwrap();
        let t0 = datetime!(2026-11-01 0:00 UTC);
        let r1 = store.start_run("nightly", t0).unwrap();
        store
            .save_in_run(r1, &report("a.example", t0), "spf.valid pass")
            .unwrap();
        store
            .save_in_run(r1, &report("b.example", t0), "dmarc.missing warning")
            .unwrap();
        store.finish_run(r1, t0).unwrap();
        let r2 = store.start_run("nightly", t0 + time::Duration::days(1)).unwrap();
        store
            .save_in_run(r2, &report("a.example", t0), "spf.missing fail")
            .unwrap();
        let runs = store.runs().unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].reports, runs[0].finished_at.is_some()), (2, true));
        assert_eq!((runs[1].reports, runs[1].finished_at), (1, None));
        let mut seen = vec![];
        store.for_each_result(r1, |r| seen.push(r.target)).unwrap();
        assert_eq!(seen, ["a.example", "b.example"]);
        let h = store.history("a.example").unwrap();
        assert_eq!(
            h.iter()
                .map(|(run, r)| (run.id, r.findings.as_str()))
                .collect::<Vec<_>>(),
            [(r1, "spf.valid pass"), (r2, "spf.missing fail")]
        );
    }

    #[test]
    fn a_newer_schema_is_refused_and_a_huge_report_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("future.sqlite");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::NewerSchema { found: 99, .. })
        ));
        assert!(
            std::fs::read(&path).unwrap() == before,
            "the newer store was written to"
        );
        let store = Store::in_memory().unwrap();
        let big = "x".repeat(MAX_REPORT_BYTES + 1);
        let mut r = report("a.example", OffsetDateTime::UNIX_EPOCH);
        r.json = &big;
        assert!(matches!(store.save(&r), Err(StoreError::TooLarge { .. })));
    }
}
