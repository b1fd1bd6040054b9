//! The conformance suite: behaviour every [`Store`](crate::Store) backend must show,
//! one module per aggregate. A backend runs it with [`conformance_suite!`](crate::conformance_suite)
//! against a real database, a fresh one per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod audit;
pub mod certificates;
pub mod clients;
pub mod consents;
pub mod keys;
pub mod meta;
pub mod refresh_tokens;
pub mod revoked;
pub mod signing_keys;
pub mod users;

/// Expands to one `#[tokio::test]` per conformance check. `$make` is an expression
/// that evaluates to a future yielding a fresh, empty store.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@tests $make;
            meta::set_if_absent_keeps_the_first_value,
            meta::ping_answers,
            meta::set_replaces_the_value,
            keys::insert_then_read_back_every_field,
            keys::duplicate_id_or_digest_is_a_conflict,
            keys::update_replaces_the_record,
            keys::update_of_a_missing_key_is_not_found,
            keys::delete_removes_and_second_delete_is_not_found,
            keys::list_pages_in_id_order,
            keys::count_keys_counts_every_key,
            keys::rotation_writes_both_records,
            keys::usage_updates_counters_and_ignores_deleted_keys,
            audit::appended_events_read_back_with_their_chain,
            audit::head_is_the_newest_event,
            audit::taken_sequence_number_is_a_conflict,
            audit::batch_with_a_conflict_inside_writes_nothing,
            audit::filters_select_matching_events,
            audit::cursor_pages_through_both_orders,
            audit::prune_keeps_the_newest_event,
            audit::prune_reports_where_the_trail_now_starts,
            audit::prune_deletes_a_run_from_the_start_even_if_times_step_back,
            signing_keys::signing_keys_read_back_in_activation_order,
            signing_keys::duplicate_signing_key_is_a_conflict,
            signing_keys::signing_key_expiry_and_delete,
            clients::clients_read_back_every_field,
            clients::client_update_and_delete,
            clients::code_flow_client_reads_back_exactly,
            clients::client_update_replaces_the_redirect_uris,
            clients::resource_server_audiences_read_back_and_survive_updates,
            revoked::revoked_tokens_are_kept_until_they_expire,
            users::user_reads_back_by_id_and_username,
            users::duplicate_user_id_or_username_is_a_conflict_and_changes_nothing,
            users::user_update_replaces_every_field,
            users::update_to_another_users_username_is_a_conflict,
            users::update_or_delete_of_an_unknown_user_is_not_found,
            users::users_list_in_id_order_by_page,
            users::deleted_user_is_gone_by_id_and_username,
            refresh_tokens::refresh_token_reads_back_every_field_by_digest,
            refresh_tokens::duplicate_refresh_token_digest_or_id_is_a_conflict,
            refresh_tokens::rotation_spends_the_old_token_and_stores_its_successor,
            refresh_tokens::a_spent_token_does_not_rotate_again,
            refresh_tokens::a_revoked_or_unknown_token_does_not_rotate,
            refresh_tokens::a_successor_that_cannot_be_stored_leaves_the_old_token_unspent,
            refresh_tokens::revoking_a_family_revokes_every_member_and_returns_its_access_tokens,
            refresh_tokens::revoking_a_users_tokens_covers_all_clients_or_the_one_named,
            refresh_tokens::prune_deletes_only_families_ended_by_the_cutoff,
            consents::consent_reads_back_and_put_replaces_it,
            consents::consents_list_one_users_consents_by_client,
            consents::deleting_a_consent_withdraws_only_it,
            consents::deleting_a_user_forgets_their_consents_and_refresh_tokens,
            consents::deleting_a_client_forgets_its_consents_and_refresh_tokens,
            certificates::certificate_reads_back_every_field,
            certificates::duplicate_certificate_serial_is_a_conflict_and_changes_nothing,
            certificates::duplicate_certificate_fingerprint_is_a_conflict,
            certificates::revoking_a_certificate_sets_its_time_once,
            certificates::revoking_an_unknown_certificate_is_not_found,
            certificates::certificates_list_by_serial,
        );
        $crate::conformance_suite!(@shared $make;
            refresh_tokens::concurrent_rotations_of_one_token_have_one_winner,
        );
    };
    (@tests $make:expr; $($module:ident :: $name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store = $make.await;
                $crate::conformance::$module::$name(&store).await;
            }
        )+
    };
    // Checks that share the store between tasks get it behind an `Arc`, on a runtime
    // with several threads so the tasks really run at once.
    (@shared $make:expr; $($module:ident :: $name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store = ::std::sync::Arc::new($make.await);
                $crate::conformance::$module::$name(store).await;
            }
        )+
    };
}
