use crate::conformance::refresh_tokens::at;
use crate::{Store, StoreError};
use gatehouse_core::mtls::CertificateRecord;
use gatehouse_core::scope::ScopeSet;

/// A live, fully populated certificate whose serial (fixed-length hex, so it sorts
/// by `n`), fingerprint, principal and issue time follow `n`.
pub fn certificate(n: u8) -> CertificateRecord {
    CertificateRecord {
        serial: format!("{n:02x}5f3a9c0e7d21b4"),
        principal: format!("svc-{n}.internal.example"),
        sha256: [n; 32],
        scopes: ScopeSet::parse(["orders:read", "orders:write"]).unwrap(),
        not_before: at(-60_000),
        not_after: at(86_400_000),
        issued_at: at(i64::from(n)),
        revoked_at: None,
        pem: format!("-----BEGIN CERTIFICATE-----\nMIIB{n:02x}\n-----END CERTIFICATE-----\n"),
    }
}

pub async fn certificate_reads_back_every_field(store: &dyn Store) {
    assert!(store.certificates().await.unwrap().is_empty());
    let live = certificate(1);
    let revoked = CertificateRecord {
        revoked_at: Some(at(10)),
        ..certificate(2)
    };
    let bare = CertificateRecord {
        scopes: ScopeSet::default(),
        ..certificate(3)
    };
    for cert in [&live, &revoked, &bare] {
        store.insert_certificate(cert).await.unwrap();
    }
    assert_eq!(
        store.certificates().await.unwrap(),
        vec![live, revoked, bare]
    );
}

pub async fn duplicate_certificate_serial_is_a_conflict_and_changes_nothing(store: &dyn Store) {
    store.insert_certificate(&certificate(1)).await.unwrap();
    let same_serial = CertificateRecord {
        serial: certificate(1).serial,
        ..certificate(2)
    };
    assert!(matches!(
        store.insert_certificate(&same_serial).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.certificates().await.unwrap(), vec![certificate(1)]);
}

pub async fn duplicate_certificate_fingerprint_is_a_conflict(store: &dyn Store) {
    store.insert_certificate(&certificate(1)).await.unwrap();
    // Another serial, same DER digest: the handshake could not tell them apart.
    let same_fingerprint = CertificateRecord {
        sha256: certificate(1).sha256,
        ..certificate(2)
    };
    assert!(matches!(
        store.insert_certificate(&same_fingerprint).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.certificates().await.unwrap(), vec![certificate(1)]);
}

pub async fn revoking_a_certificate_sets_its_time_once(store: &dyn Store) {
    let revoked_before = CertificateRecord {
        revoked_at: Some(at(5)),
        ..certificate(1)
    };
    let live = certificate(2);
    let untouched = certificate(3);
    for cert in [&revoked_before, &live, &untouched] {
        store.insert_certificate(cert).await.unwrap();
    }
    store
        .revoke_certificate(&live.serial, at(50))
        .await
        .unwrap();
    let revoked_now = CertificateRecord {
        revoked_at: Some(at(50)),
        ..live.clone()
    };
    assert_eq!(
        store.certificates().await.unwrap(),
        vec![
            revoked_before.clone(),
            revoked_now.clone(),
            untouched.clone()
        ]
    );
    // Revoking again succeeds and keeps the first time, whoever set it.
    for cert in [&revoked_before, &live] {
        store
            .revoke_certificate(&cert.serial, at(60))
            .await
            .unwrap();
    }
    assert_eq!(
        store.certificates().await.unwrap(),
        vec![revoked_before, revoked_now, untouched]
    );
}

pub async fn revoking_an_unknown_certificate_is_not_found(store: &dyn Store) {
    assert!(matches!(
        store.revoke_certificate("00", at(50)).await,
        Err(StoreError::NotFound)
    ));
    store.insert_certificate(&certificate(1)).await.unwrap();
    assert!(matches!(
        store.revoke_certificate("ff", at(50)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.certificates().await.unwrap(), vec![certificate(1)]);
}

pub async fn certificates_list_by_serial(store: &dyn Store) {
    // Inserted out of serial order, and with issue times that disagree with it, so the
    // order read back comes from the serial.
    let certs = [
        CertificateRecord {
            issued_at: at(1),
            ..certificate(0xb2)
        },
        CertificateRecord {
            issued_at: at(2),
            ..certificate(0x0a)
        },
        CertificateRecord {
            issued_at: at(3),
            ..certificate(0x1f)
        },
    ];
    for cert in &certs {
        store.insert_certificate(cert).await.unwrap();
    }
    let [b2, a, f] = certs;
    assert_eq!(store.certificates().await.unwrap(), vec![a, f, b2]);
}
