use super::*;
use rcgen::{CertificateParams, DnType, KeyPair, SanType};

fn cert(sans: Vec<SanType>, cn: Option<&str>) -> Vec<u8> {
    let mut params = CertificateParams::default();
    params.subject_alt_names = sans;
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(cn) = cn {
        params.distinguished_name.push(DnType::CommonName, cn);
    }
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x01, 0xab, 0xcd]));
    let key = KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

fn uri(s: &str) -> SanType {
    SanType::URI(s.try_into().unwrap())
}

fn dns(s: &str) -> SanType {
    SanType::DnsName(s.try_into().unwrap())
}

#[test]
fn a_san_uri_comes_first_then_dns_then_the_common_name() {
    let both = cert(
        vec![dns("orders.internal"), uri("spiffe://example.org/orders")],
        Some("orders"),
    );
    let id = identity(&both).unwrap();
    assert_eq!(id.principal, "spiffe://example.org/orders");
    assert_eq!(id.source, PrincipalSource::Uri);

    let id = identity(&cert(vec![dns("orders.internal")], Some("orders"))).unwrap();
    assert_eq!(
        (id.principal.as_str(), id.source),
        ("orders.internal", PrincipalSource::Dns)
    );

    let id = identity(&cert(vec![], Some("billing-batch"))).unwrap();
    assert_eq!(
        (id.principal.as_str(), id.source),
        ("billing-batch", PrincipalSource::CommonName)
    );
}

#[test]
fn fingerprint_serial_and_thumbprint_describe_the_der() {
    let der = cert(vec![], Some("svc"));
    let id = identity(&der).unwrap();
    let sha: [u8; 32] = Sha256::digest(&der).into();
    assert_eq!(id.sha256, sha);
    assert_eq!(id.fingerprint(), crate::hex::encode(&sha));
    assert_eq!(id.fingerprint().len(), 64);
    assert_eq!(id.x5t_s256(), b64::encode(sha));
    assert_eq!(id.serial, "01abcd");
    assert!(id.not_before < id.not_after);
}

#[test]
fn a_certificate_naming_no_one_or_not_parsing_is_refused() {
    assert_eq!(identity(&cert(vec![], None)), Err(CertError::NoSubject));
    assert_eq!(identity(b"not a certificate"), Err(CertError::Malformed));
    let mut trailing = cert(vec![], Some("svc"));
    trailing.push(0);
    assert_eq!(identity(&trailing), Err(CertError::Malformed));
}

#[test]
fn the_holder_is_authenticated_by_fingerprint_with_the_given_scopes() {
    let id = identity(&cert(vec![uri("spiffe://example.org/a")], None)).unwrap();
    let scopes = ScopeSet::parse(["orders:read"]).unwrap();
    let who = Authenticated::certificate_holder(&id, scopes.clone());
    assert_eq!(who.principal(), "spiffe://example.org/a");
    assert_eq!(who.credential_id(), id.fingerprint());
    assert_eq!(who.method(), AuthMethod::Mtls);
    assert_eq!(who.scopes(), &scopes);
}

#[test]
fn subjects_go_where_identity_reads_them_back() {
    for (subject, place) in [
        ("spiffe://example.org/orders/api", PrincipalSource::Uri),
        ("spiffe://example.org", PrincipalSource::Uri),
        ("orders.internal", PrincipalSource::Dns),
        ("billing-batch", PrincipalSource::CommonName),
        ("Billing Batch", PrincipalSource::CommonName),
    ] {
        assert_eq!(subject_placement(subject), Ok(place), "{subject}");
    }
    for bad in [
        "",
        " lead",
        "tab\there",
        "spiffe://",
        "spiffe://Example.org/x",
        "spiffe://example.org//x",
        "spiffe://example.org/a b",
        "caf\u{e9}",
        &"x".repeat(MAX_SUBJECT + 1),
    ] {
        assert_eq!(subject_placement(bad), Err(CertError::NoSubject), "{bad:?}");
    }
}

#[test]
fn a_client_binding_matches_by_principal_or_by_exact_fingerprint() {
    use crate::oauth::CertBinding;
    let id = identity(&cert(vec![uri("spiffe://example.org/batch")], None)).unwrap();
    let other = identity(&cert(vec![uri("spiffe://example.org/batch")], None)).unwrap();
    let subject = CertBinding::Subject("spiffe://example.org/batch".into());
    assert!(subject.matches(&id) && subject.matches(&other));
    assert!(!CertBinding::Subject("spiffe://example.org/x".into()).matches(&id));
    let exact = CertBinding::Sha256(id.fingerprint());
    assert!(exact.matches(&id));
    assert!(!exact.matches(&other), "same subject, another key");
}
