//! The PostgreSQL store, against a real server (`DATABASE_URL`; `scripts/test` as root starts
//! one): the shared cases, each store in a schema of its own, and what only a server can do.

use super::*;

struct Schemas {
    url: String,
    names: RefCell<Vec<String>>,
}

impl Schemas {
    fn fresh(&self) -> String {
        let name = format!("t_{}", Uuid::new_v4().simple());
        self.names.borrow_mut().push(name.clone());
        name
    }
}

impl Drop for Schemas {
    fn drop(&mut self) {
        if let Ok(mut c) = ::postgres::Client::connect(&self.url, ::postgres::NoTls) {
            for n in self.names.borrow().iter() {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{n}\" CASCADE"));
            }
        }
    }
}

fn pg_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            crate::helpers::skip_or_fail(
                "PostgreSQL is not running (DATABASE_URL unset): run scripts/test as root",
            );
            None
        }
    }
}

/// Fresh schemas on the server, one per store the case asks for, dropped when it ends.
fn with_postgres(case: impl FnOnce(Make)) {
    let Some(url) = pg_url() else {
        return;
    };
    let schemas = Schemas {
        url: url.clone(),
        names: RefCell::new(Vec::new()),
    };
    let make = || -> Box<dyn TaskStore> {
        let mut s = PostgresStore::connect_with_schema(&url, &schemas.fresh()).unwrap();
        s.initialize().unwrap();
        Box::new(s)
    };
    case(&make);
}

each_case!(with_postgres, true);

#[test]
fn specifics() {
    let Some(url) = pg_url() else {
        return;
    };
    let schemas = Schemas {
        url: url.clone(),
        names: RefCell::new(Vec::new()),
    };
    let schema = schemas.fresh();

    let mut s = PostgresStore::connect_with_schema(&url, &schema).unwrap();
    assert!(matches!(s.check(), Err(StoreError::Uninitialized)));
    s.initialize().unwrap();
    s.initialize().unwrap();
    s.check().unwrap();
    let e = s.backup(std::path::Path::new("/tmp/never.db")).unwrap_err();
    assert!(e.to_string().contains("SQLite"), "{e}");

    // The URL's own search_path option works too.
    let sep = if url.contains('?') { '&' } else { '?' };
    let mut via_url =
        PostgresStore::connect(&format!("{url}{sep}options=-csearch_path%3D{schema}")).unwrap();
    via_url.check().unwrap();
    s.submit(&[task("shared", 0)]).unwrap();
    assert_eq!(via_url.count(&Query::default()).unwrap(), 1);

    // One controller per schema, released with the connection.
    s.claim_controller("controller pid 7 on host-b").unwrap();
    match via_url.claim_controller("second") {
        Err(StoreError::Locked { owner }) => assert_eq!(owner, "controller pid 7 on host-b"),
        r => panic!("second claim: {r:?}"),
    }
    let mut elsewhere = PostgresStore::connect_with_schema(&url, &schemas.fresh()).unwrap();
    elsewhere.initialize().unwrap();
    elsewhere.claim_controller("another site").unwrap();
    drop(s);
    via_url.claim_controller("second").unwrap();

    // A newer schema is refused.
    let mut raw = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    raw.batch_execute(&format!(
        "UPDATE \"{schema}\".hs_meta SET value = '{}' WHERE key = 'schema_version'",
        SCHEMA_VERSION + 1
    ))
    .unwrap();
    let mut s = PostgresStore::connect_with_schema(&url, &schema).unwrap();
    let e = s.initialize().unwrap_err();
    assert!(matches!(e, StoreError::NewerSchema { .. }), "{e}");

    // memory is BIGINT (D11), the tag JSONB.
    let types: Vec<(String, String)> = raw
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = 'task' AND column_name IN ('memory', 'tag', 'id', 'submit_time')",
            &[&schema],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (col, ty) in [
        ("memory", "bigint"),
        ("tag", "jsonb"),
        ("id", "uuid"),
        ("submit_time", "timestamp with time zone"),
    ] {
        assert!(
            types.contains(&(col.to_string(), ty.to_string())),
            "{col} {ty} in {types:?}"
        );
    }
}

#[test]
fn connect_errors() {
    // Nothing listens on port 1.
    let e = PostgresStore::connect("postgres://hs:secret-pw@127.0.0.1:1/db?connect_timeout=5")
        .err()
        .unwrap();
    assert!(matches!(e, StoreError::Unreachable { .. }), "{e}");
    assert!(!e.to_string().contains("secret-pw"), "{e}");
    one_line(&e);
    let e = PostgresStore::connect("this is not a url ::")
        .err()
        .unwrap();
    one_line(&e);
    let Some(url) = pg_url() else {
        return;
    };
    // A database that does not exist, a role that does not exist: refused.
    let base = url.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    let e = PostgresStore::connect(&format!("{base}/no_such_db_hs"))
        .err()
        .unwrap();
    assert!(matches!(e, StoreError::Refused { .. }), "{e}");
    one_line(&e);
    let hostpart = base.rsplit_once('@').map(|(_, h)| h.to_string()).unwrap();
    let e = PostgresStore::connect(&format!("postgres://nobody_hs:pw-secret@{hostpart}/test"))
        .err()
        .unwrap();
    assert!(matches!(e, StoreError::Refused { .. }), "{e}");
    assert!(!e.to_string().contains("pw-secret"), "{e}");
}
