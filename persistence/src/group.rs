//! Group commit across aggregates: the batches of several aggregates of one kind written in one
//! transaction, so many cold actors on a shard share one commit instead of one each.

/// Writes every batch into one transaction with `$write` and commits once; one result per batch.
/// If writing fails before the commit (a version conflict in one batch, say), the transaction is
/// rolled back and each batch is committed on its own with `$single`, so one batch's failure
/// fails only its own callers. A failed COMMIT has an unknown outcome and is reported to all: the
/// actors reload and see what the store holds.
macro_rules! group_commit {
    (@commit $store:expr, $batches:ident, $single:ident, $written:expr) => {{
        let mut results = Vec::with_capacity($batches.len());
        if $batches.len() <= 1 {
            for batch in $batches {
                results.push($store.$single(batch).await);
            }
        } else {
            let written: Result<_, StoreError> = $written.await;
            match written {
                Ok(tx) => {
                    let outcome = tx.commit().await.map_err(crate::error::map);
                    results.extend($batches.iter().map(|_| outcome.clone()));
                }
                Err(_) => {
                    for batch in $batches {
                        results.push($store.$single(batch).await);
                    }
                }
            }
        }
        results
    }};
    // All batches written at once by `$write_all(tx, &batches)`: set-based statements.
    ($store:expr, $begin:expr, $batches:expr, all $write_all:path, $single:ident) => {{
        let batches = $batches;
        $crate::group::group_commit!(@commit $store, batches, $single, async {
            let tx = $begin;
            $write_all(tx, &batches).await
        })
    }};
    // Each batch written by `$write(tx, &batch)` in turn.
    ($store:expr, $begin:expr, $batches:expr, $write:path, $single:ident) => {{
        let batches = $batches;
        $crate::group::group_commit!(@commit $store, batches, $single, async {
            let mut tx = $begin;
            for batch in &batches {
                tx = $write(tx, batch).await?;
            }
            Ok(tx)
        })
    }};
}

pub(crate) use group_commit;
