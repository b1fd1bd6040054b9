//! Queries on `audit_events`.

use crate::rows::{event_columns, event_from_row, to_i64};
use crate::unavailable;
use gatehouse_core::UnixTime;
use gatehouse_core::audit::{AuditEvent, ChainHash, Outcome};
use gatehouse_store::{AuditQuery, Order, Pruned, StoreError};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use std::sync::{Arc, LazyLock};

/// Rows per multi-row INSERT. Only two statement shapes are ever used — this many rows
/// and one row — so both stay in the prepared-statement cache; a shape per batch size
/// made SQLite re-parse the INSERT for almost every batch.
const ROWS_PER_STATEMENT: usize = 64;

/// The two INSERTs, written once: building one per chunk (sqlx's `QueryBuilder`,
/// formatting a placeholder per value) cost about 5% of a gateway request's
/// instructions (bench/run-instructions.sh).
static INSERT_MANY: LazyLock<String> = LazyLock::new(|| insert_sql(ROWS_PER_STATEMENT));
static INSERT_ONE: LazyLock<String> = LazyLock::new(|| insert_sql(1));

/// `INSERT OR FAIL INTO audit_events (…) VALUES (?, …), …` for `rows` events.
///
/// OR FAIL: a multi-row INSERT that may abort keeps a statement journal, a copy of
/// every page it touches, to undo its own rows; in a profile of appends that copying
/// was about 5% of the time. FAIL leaves a conflicting statement's earlier rows to the
/// transaction, which is then dropped uncommitted (rolled back): a batch still lands
/// whole or not at all (conformance: `batch_with_a_conflict_inside_writes_nothing`).
fn insert_sql(rows: usize) -> String {
    let columns = event_columns!().split(',').count();
    let row = format!("({})", vec!["?"; columns].join(", "));
    format!(
        "INSERT OR FAIL INTO audit_events ({}) VALUES {}",
        event_columns!(),
        vec![row; rows].join(", ")
    )
}

/// An outcome as the INSERT binds it: one of two `Arc<str>` made once, where a `&str`
/// would cost sqlx two allocations a row.
fn outcome(outcome: Outcome) -> Arc<str> {
    static OUTCOMES: LazyLock<[Arc<str>; 2]> =
        LazyLock::new(|| [Outcome::Allowed, Outcome::Denied].map(|o| Arc::from(o.as_str())));
    let [allowed, denied] = &*OUTCOMES;
    Arc::clone(match outcome {
        Outcome::Allowed => allowed,
        Outcome::Denied => denied,
    })
}

pub async fn append(pool: &SqlitePool, events: &[AuditEvent]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(unavailable)?;
    let full = events.len() - events.len() % ROWS_PER_STATEMENT;
    let (chunks, rest) = events.split_at(full);
    let statements = chunks
        .chunks(ROWS_PER_STATEMENT)
        .map(|chunk| (INSERT_MANY.as_str(), chunk))
        .chain(rest.chunks(1).map(|one| (INSERT_ONE.as_str(), one)));
    for (sql, chunk) in statements {
        // Each text field is an `Arc<str>`, which sqlx binds as it is: a clone is a
        // reference count, not a copy.
        let q = chunk.iter().fold(sqlx::query(sql), |q, e| {
            let b = &e.body;
            q.bind(to_i64(e.seq))
                .bind(b.time.as_millis())
                .bind(Arc::clone(&b.request_id))
                .bind(Arc::clone(&b.action))
                .bind(outcome(b.outcome))
                .bind(b.reason.clone())
                .bind(b.principal.clone())
                .bind(b.credential_id.clone())
                .bind(b.auth_method.clone())
                .bind(b.target.clone())
                .bind(b.route.clone())
                .bind(b.method.clone())
                .bind(b.path.clone())
                .bind(b.status.map(i64::from))
                .bind(b.client_ip.clone())
                .bind(b.latency_us.map(to_i64))
                .bind(e.prev_hash.to_hex())
                .bind(e.hash.to_hex())
        });
        q.execute(&mut *tx).await.map_err(unavailable)?;
    }
    tx.commit().await.map_err(unavailable)
}

pub async fn head(pool: &SqlitePool) -> Result<Option<(u64, ChainHash)>, StoreError> {
    let sql = concat!(
        "SELECT ",
        event_columns!(),
        " FROM audit_events ORDER BY seq DESC LIMIT 1"
    );
    let row = sqlx::query(sql)
        .fetch_optional(pool)
        .await
        .map_err(unavailable)?;
    Ok(row
        .as_ref()
        .map(event_from_row)
        .transpose()?
        .map(|e| (e.seq, e.hash)))
}

pub async fn query(pool: &SqlitePool, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(concat!(
        "SELECT ",
        event_columns!(),
        " FROM audit_events WHERE 1 = 1"
    ));
    if let Some(v) = &query.principal {
        q.push(" AND principal = ").push_bind(v.clone());
    }
    if let Some(v) = &query.credential_id {
        q.push(" AND credential_id = ").push_bind(v.clone());
    }
    if let Some(v) = &query.action {
        q.push(" AND action = ").push_bind(v.clone());
    }
    if let Some(v) = query.outcome {
        q.push(" AND outcome = ").push_bind(v.as_str());
    }
    if let Some(v) = query.since {
        q.push(" AND time >= ").push_bind(v.as_millis());
    }
    if let Some(v) = query.until {
        q.push(" AND time < ").push_bind(v.as_millis());
    }
    let (cmp, dir) = match query.order {
        Order::Ascending => (">", "ASC"),
        Order::Descending => ("<", "DESC"),
    };
    if let Some(after) = query.after_seq {
        q.push(format!(" AND seq {cmp} ")).push_bind(to_i64(after));
    }
    q.push(format!(" ORDER BY seq {dir} LIMIT "))
        .push_bind(i64::from(query.limit));
    let rows = q.build().fetch_all(pool).await.map_err(unavailable)?;
    rows.iter().map(event_from_row).collect()
}

pub async fn prune(pool: &SqlitePool, before: UnixTime) -> Result<Pruned, StoreError> {
    // IMMEDIATE takes the write lock first: a deferred transaction that reads and then
    // writes fails if the audit writer commits in between, which under load is always.
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(unavailable)?;
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(seq) FROM audit_events \
         WHERE time < ? AND seq < (SELECT MAX(seq) FROM audit_events)",
    )
    .bind(before.as_millis())
    .fetch_one(&mut *tx)
    .await
    .map_err(unavailable)?;
    let Some(last) = last else {
        return Ok(Pruned {
            deleted: 0,
            starts_at: None,
        });
    };
    // Everything up to `last`, not only what is old: a clock that stepped back must not
    // leave a hole in the chain.
    let done = sqlx::query("DELETE FROM audit_events WHERE seq <= ?")
        .bind(last)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    let last = u64::try_from(last).map_err(|_| StoreError::Corrupt(format!("audit seq {last}")))?;
    Ok(Pruned {
        deleted: done.rows_affected(),
        starts_at: Some(last + 1),
    })
}
