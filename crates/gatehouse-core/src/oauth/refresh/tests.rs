use super::*;

const T0: UnixTime = UnixTime::from_millis(1_700_000_000_000);
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn scopes(s: &[&str]) -> ScopeSet {
    ScopeSet::parse(s.iter().copied()).unwrap()
}

fn lifetimes() -> Lifetimes {
    Lifetimes {
        absolute_secs: 30 * 24 * 60 * 60,
        idle_secs: 7 * 24 * 60 * 60,
    }
}

fn token() -> RefreshRecord {
    first(
        "rt_1".into(),
        KeyDigest([1; 32]),
        "app",
        "usr_1",
        scopes(&["openid", "orders:read", "orders:write"]),
        T0,
        Some("jti-1".into()),
        T0,
        lifetimes(),
    )
}

#[test]
fn a_first_token_starts_its_family_and_dies_idle_before_the_family_ends() {
    let t = token();
    assert_eq!(t.family_id, "rt_1");
    assert_eq!(t.expires_at, T0.plus_millis(7 * DAY_MS));
    assert_eq!(t.family_expires_at, T0.plus_millis(30 * DAY_MS));
    assert_eq!(check(&t, "app", None, T0), Ok(t.scopes.clone()));
}

#[test]
fn without_a_scope_the_whole_grant_is_given_and_narrowing_is_allowed() {
    let t = token();
    let got = check(&t, "app", Some("orders:read"), T0).unwrap();
    assert_eq!(got, scopes(&["orders:read"]));
    assert_eq!(check(&t, "app", Some("  "), T0), Ok(t.scopes.clone()));
}

#[test]
fn asking_for_a_scope_outside_the_grant_is_escalation() {
    let t = token();
    for asked in ["admin", "orders:read admin", "bad\u{7f}scope"] {
        let refusal = check(&t, "app", Some(asked), T0).unwrap_err();
        assert!(
            matches!(refusal, RefreshRefusal::ScopeEscalation(_)),
            "{asked}: {refusal:?}"
        );
        assert_eq!(refusal.reason(), "scope_escalation");
    }
}

#[test]
fn another_client_cannot_use_it() {
    assert_eq!(
        check(&token(), "other", None, T0),
        Err(RefreshRefusal::OtherClient)
    );
}

#[test]
fn idle_and_absolute_deadlines_end_it() {
    let t = token();
    let idle_end = T0.plus_millis(7 * DAY_MS);
    assert!(check(&t, "app", None, idle_end.plus_millis(-1)).is_ok());
    assert_eq!(
        check(&t, "app", None, idle_end),
        Err(RefreshRefusal::Expired)
    );

    // Used every six days, the chain still ends with its family.
    let mut current = t;
    let mut now = T0;
    for n in 0..4 {
        now = now.plus_millis(6 * DAY_MS);
        assert!(check(&current, "app", None, now).is_ok(), "rotation {n}");
        current = successor(
            &current,
            format!("rt_{}", n + 2),
            KeyDigest([n + 2; 32]),
            None,
            now,
            lifetimes(),
        );
    }
    assert_eq!(current.family_expires_at, T0.plus_millis(30 * DAY_MS));
    assert_eq!(current.expires_at, current.family_expires_at, "clamped");
    assert_eq!(
        check(&current, "app", None, T0.plus_millis(30 * DAY_MS)),
        Err(RefreshRefusal::Expired)
    );
}

#[test]
fn a_successor_keeps_family_scope_user_and_auth_time() {
    let t = token();
    let later = T0.plus_millis(1000);
    let next = successor(
        &t,
        "rt_2".into(),
        KeyDigest([2; 32]),
        None,
        later,
        lifetimes(),
    );
    assert_eq!(next.family_id, "rt_1");
    assert_eq!(next.id, "rt_2");
    assert_eq!(next.scopes, t.scopes);
    assert_eq!(next.user_id, "usr_1");
    assert_eq!(next.auth_time, T0);
    assert_eq!(next.issued_at, later);
    assert_eq!(next.expires_at, later.plus_millis(7 * DAY_MS));
    assert_eq!(next.spent_at, None);
}

#[test]
fn a_spent_token_is_reuse_even_when_expired_or_presented_by_another_client() {
    let mut t = token();
    t.spent_at = Some(T0);
    let late = T0.plus_millis(29 * DAY_MS);
    assert_eq!(check(&t, "app", None, T0), Err(RefreshRefusal::Reused));
    assert_eq!(check(&t, "other", None, late), Err(RefreshRefusal::Reused));
}

#[test]
fn a_revoked_family_is_refused_before_anything_else() {
    let mut t = token();
    t.spent_at = Some(T0);
    t.revoked_at = Some(T0);
    assert_eq!(check(&t, "app", None, T0), Err(RefreshRefusal::Revoked));
}

/// Bytes for tests: 1, 2, 3, …
struct Counting(u8);

impl Entropy for Counting {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), EntropyUnavailable> {
        for b in dest {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

#[test]
fn generated_tokens_parse_and_api_keys_do_not() {
    let token = generate(&mut Counting(0)).unwrap();
    assert!(token.reveal().starts_with("grt_"));
    assert!(parse(token.reveal()).is_some());
    let key = ApiKey::generate(&Prefix::default_prefix(), &mut Counting(0)).unwrap();
    assert!(parse(key.reveal()).is_none());
    assert!(parse("grt_short").is_none());
    let mut typo = token.reveal().to_owned();
    typo.replace_range(4..5, if &typo[4..5] == "a" { "b" } else { "a" });
    assert!(parse(&typo).is_none(), "the checksum catches a typo");
}
