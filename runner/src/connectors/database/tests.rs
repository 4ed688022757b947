use serde_json::json;
use switchyard_crds::v1alpha1::{DatabaseConnection, DatabaseDelivery, TableWrite};

use super::*;
use crate::secrets::SecretSource;

#[test]
fn named_parameters_become_placeholders_outside_strings_and_casts() {
    let sql = "SELECT * FROM t WHERE a >= :cursor::timestamptz AND b = ':not' AND c = :c.d -- :x\n OR e = :cursor";
    let pg = NamedSql::parse(sql, Placeholder::Numbered);
    assert_eq!(
        pg.sql,
        "SELECT * FROM t WHERE a >= $1::timestamptz AND b = ':not' AND c = $2 -- :x\n OR e = $3"
    );
    assert_eq!(pg.names, ["cursor", "c.d", "cursor"]);
    let my = NamedSql::parse("CALL book(:id, :total)", Placeholder::Question);
    assert_eq!(my.sql, "CALL book(?, ?)");
    let item = json!({"id": 7, "c": {"d": "x"}});
    assert_eq!(
        pg.values(&item),
        [
            &serde_json::Value::Null,
            &json!("x"),
            &serde_json::Value::Null
        ]
    );
}

fn pool(url: &str) -> std::sync::Arc<DatabasePool> {
    let spec = DatabaseConnection {
        url: url.into(),
        password: None,
        max_connections: None,
        connect_timeout_seconds: None,
    };
    let secrets = SecretSource::default();
    std::sync::Arc::new(
        DatabasePool::new(&spec, "default", &secrets).unwrap_or_else(|e| panic!("{e}")),
    )
}

fn upsert() -> DatabaseDelivery {
    DatabaseDelivery {
        insert: None,
        upsert: Some(TableWrite {
            table: "shop.orders".into(),
            columns: Vec::new(),
            key: vec!["id".into()],
        }),
        statement: None,
    }
}

#[tokio::test]
async fn upserts_quote_identifiers_and_bind_values() {
    let item = json!({"id": 1, "total": 9.5});
    let mysql = DatabaseSink::new(pool("mysql://root@127.0.0.1/test"), &upsert())
        .unwrap_or_else(|e| panic!("{e}"));
    let (sql, values) = mysql.statement(&item).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sql,
        "INSERT INTO `shop`.`orders` (`id`, `total`) VALUES (?, ?) ON DUPLICATE KEY UPDATE `total` = VALUES(`total`)"
    );
    assert_eq!(values, [json!(1), json!(9.5)]);
    let pg = DatabaseSink::new(pool("postgres://app@127.0.0.1/shop"), &upsert())
        .unwrap_or_else(|e| panic!("{e}"));
    let (sql, values) = pg.statement(&item).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        sql.ends_with("ON CONFLICT (\"id\") DO UPDATE SET \"total\" = excluded.\"total\""),
        "{sql}"
    );
    assert_eq!(values, vec![item]);
    let bad = mysql.statement(&json!({"id; DROP TABLE x": 1}));
    assert!(matches!(bad, Err(DatabaseError::Item(_))));
}

#[test]
fn permanent_errors_are_not_retried() {
    let permanent = [
        DatabaseError::Item("no fields".into()),
        DatabaseError::UnsupportedType {
            column: "c".into(),
            type_name: "NUMERIC".into(),
        },
        DatabaseError::Sql {
            operation: "statement",
            source: sqlx::Error::RowNotFound,
        },
        DatabaseError::Sql {
            operation: "statement",
            source: sqlx::Error::ColumnNotFound("x".into()),
        },
    ];
    for error in &permanent {
        assert!(!is_retriable(error), "{error} must be permanent");
    }
    let transient = [
        DatabaseError::Sql {
            operation: "begin",
            source: sqlx::Error::PoolTimedOut,
        },
        DatabaseError::Sql {
            operation: "begin",
            source: sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        },
    ];
    for error in &transient {
        assert!(is_retriable(error), "{error} must be retried");
    }
}
