//! A fresh database per test on the machine's MariaDB (127.0.0.1:3306, root, no
//! password).

use sqlx::Connection;

pub const SERVER: &str = "mysql://root@127.0.0.1:3306";

pub struct MariaDb {
    pub name: String,
    pub url: String,
}

impl MariaDb {
    pub async fn create() -> Option<Self> {
        let mut admin = match sqlx::MySqlConnection::connect(&format!("{SERVER}/test")).await {
            Ok(connection) => connection,
            Err(error) => {
                return super::unavailable(format!(
                    "MariaDB is not reachable at {SERVER} ({error})"
                ));
            }
        };
        let name = format!("switchyard_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        Some(Self {
            url: format!("{SERVER}/{name}"),
            name,
        })
    }

    pub async fn connect(&self) -> sqlx::MySqlConnection {
        sqlx::MySqlConnection::connect(&self.url)
            .await
            .expect("connect to the test database")
    }

    pub async fn drop_now(self) {
        if let Ok(mut admin) = sqlx::MySqlConnection::connect(&format!("{SERVER}/test")).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {}", self.name))
                .execute(&mut admin)
                .await;
        }
    }
}
