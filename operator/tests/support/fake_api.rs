//! An in-memory Kubernetes API server behind a real `kube::Client`: the operator's own
//! requests (list with label selectors, server-side apply, status apply, delete) run
//! unchanged against it, and every request is recorded for assertions.
//!
//! Simplifications, stated so no test relies on more: one field manager (an apply
//! replaces the object's fields, keeping `status` and server metadata); a status apply
//! merges the top-level status fields; deleting an object deletes its dependents at once
//! (the garbage collector, without delay); label selectors are `k=v` lists. Like the
//! real server, a create of an existing object answers `409 AlreadyExists` and a replace
//! (`PUT`) carrying a stale `resourceVersion` answers `409 Conflict` (optimistic
//! concurrency, which leader election relies on). Cluster-scoped objects (CRDs) are
//! stored with an empty namespace.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

/// One request the operator sent.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Who sent it (see [`FakeApi::client_as`]).
    pub user: String,
    pub method: Method,
    pub path: String,
    pub query: String,
    pub body: Option<Value>,
}

impl Recorded {
    /// Whether the request changes anything.
    pub fn is_write(&self) -> bool {
        self.method != Method::GET
    }
}

/// `(apiVersion, plural, namespace, name)`.
type Key = (String, String, String, String);

#[derive(Default)]
struct State {
    objects: BTreeMap<Key, Value>,
    requests: Vec<Recorded>,
    version: u64,
}

/// The fake API server. Clones share state.
#[derive(Clone, Default)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

impl FakeApi {
    /// A client whose every request this fake answers.
    pub fn client(&self) -> kube::Client {
        self.client_as("operator")
    }

    /// A client whose requests are recorded as sent by `user` (one operator replica of
    /// several).
    pub fn client_as(&self, user: &str) -> kube::Client {
        let api = self.clone();
        let user = user.to_owned();
        let service = tower::service_fn(move |request: Request<kube::client::Body>| {
            let api = api.clone();
            let user = user.clone();
            async move {
                let (parts, body) = request.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let body = serde_json::from_slice::<Value>(&bytes).ok();
                let (status, answer) = api.handle(
                    &user,
                    parts.method,
                    parts.uri.path(),
                    parts.uri.query().unwrap_or_default(),
                    body,
                );
                let response = Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(answer.to_string())))
                    .expect("a valid response");
                Ok::<_, Infallible>(response)
            }
        });
        kube::Client::new(service, "default")
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores objects as if created by a user (YAML, one or many documents).
    pub fn seed(&self, yaml: &str) {
        use serde::Deserialize;
        for document in serde_yaml::Deserializer::from_str(yaml) {
            let value = Value::deserialize(document).expect("seed YAML parses");
            if value.is_null() {
                continue;
            }
            self.put(value);
        }
    }

    /// Stores (creates or replaces) one object, filling server metadata.
    pub fn put(&self, mut object: Value) {
        let key = key_of(&object);
        let mut state = self.lock();
        state.version += 1;
        let version = state.version;
        let meta = &mut object["metadata"];
        meta["resourceVersion"] = json!(version.to_string());
        if meta.get("uid").is_none() {
            meta["uid"] = json!(format!("uid-{}-{}", key.3, version));
        }
        if meta.get("generation").is_none() {
            meta["generation"] = json!(1);
        }
        if meta.get("creationTimestamp").is_none() {
            meta["creationTimestamp"] = json!(format!("2026-01-01T00:00:{:02}Z", version % 60));
        }
        state.objects.insert(key, object);
    }

    /// One stored object.
    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let key = (
            api_version.to_owned(),
            plural(kind),
            namespace.to_owned(),
            name.to_owned(),
        );
        self.lock().objects.get(&key).cloned()
    }

    /// Changes a stored object with `change` (a user's edit): bumps generation on spec
    /// changes like the API server.
    pub fn edit(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) {
        let mut object = self
            .get(api_version, kind, namespace, name)
            .expect("object to edit exists");
        let before = object["spec"].clone();
        change(&mut object);
        if object["spec"] != before {
            let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
            object["metadata"]["generation"] = json!(generation + 1);
        }
        self.put(object);
    }

    /// Deletes an object as a user would, with its dependents.
    pub fn delete(&self, api_version: &str, kind: &str, namespace: &str, name: &str) {
        let key = (
            api_version.to_owned(),
            plural(kind),
            namespace.to_owned(),
            name.to_owned(),
        );
        let mut state = self.lock();
        cascade(&mut state, &key);
    }

    /// Every stored object, sorted by apiVersion, kind, namespace and name.
    pub fn objects(&self) -> Vec<Value> {
        self.lock().objects.values().cloned().collect()
    }

    /// Every recorded request, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    fn handle(
        &self,
        user: &str,
        method: Method,
        path: &str,
        query: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.lock().requests.push(Recorded {
            user: user.to_owned(),
            method: method.clone(),
            path: path.to_owned(),
            query: query.to_owned(),
            body: body.clone(),
        });
        let Some(route) = parse_path(path) else {
            return not_found(path);
        };
        let mut state = self.lock();
        match (method, route.name.as_deref(), route.status) {
            (Method::GET, None, _) => {
                let selector = query_param(query, "labelSelector");
                let items: Vec<Value> = state
                    .objects
                    .iter()
                    .filter(|((v, p, ns, _), _)| {
                        *v == route.api_version && *p == route.plural && *ns == route.namespace
                    })
                    .map(|(_, o)| o.clone())
                    .filter(|o| matches_selector(o, selector.as_deref()))
                    .collect();
                let version = state.version.to_string();
                (
                    StatusCode::OK,
                    json!({"apiVersion": route.api_version, "kind": "List",
                    "metadata": {"resourceVersion": version}, "items": items}),
                )
            }
            (Method::GET, Some(name), _) => match state.objects.get(&route.key(name)) {
                Some(object) => (StatusCode::OK, object.clone()),
                None => not_found(path),
            },
            (Method::PATCH, Some(name), status) => {
                let Some(applied) = body else {
                    return (
                        StatusCode::BAD_REQUEST,
                        json!({"kind": "Status", "code": 400}),
                    );
                };
                let key = route.key(name);
                state.version += 1;
                let version = state.version;
                let existing = state.objects.get(&key).cloned();
                let object = if status {
                    let Some(mut object) = existing else {
                        return not_found(path);
                    };
                    let live = object["status"].as_object().cloned().unwrap_or_default();
                    let mut merged = live;
                    if let Some(new) = applied["status"].as_object() {
                        merged.extend(new.clone());
                    }
                    object["status"] = Value::Object(merged);
                    object
                } else {
                    let mut object = applied;
                    let meta = object["metadata"]
                        .as_object_mut()
                        .map(std::mem::take)
                        .unwrap_or_default();
                    object["metadata"] = Value::Object(meta);
                    let (uid, generation, created, live_status) = match &existing {
                        Some(e) => {
                            let spec_changed = e.get("spec") != object.get("spec");
                            let generation = e["metadata"]["generation"].as_i64().unwrap_or(1);
                            (
                                e["metadata"]["uid"].clone(),
                                generation + i64::from(spec_changed),
                                e["metadata"]["creationTimestamp"].clone(),
                                e.get("status").cloned(),
                            )
                        }
                        None => (
                            json!(format!("uid-{name}-{version}")),
                            1,
                            json!("2026-01-01T00:00:00Z"),
                            None,
                        ),
                    };
                    object["metadata"]["uid"] = uid;
                    object["metadata"]["generation"] = json!(generation);
                    object["metadata"]["creationTimestamp"] = created;
                    if let Some(live_status) = live_status {
                        object["status"] = live_status;
                    }
                    object
                };
                let mut object = object;
                object["metadata"]["resourceVersion"] = json!(version.to_string());
                state.objects.insert(key, object.clone());
                (StatusCode::OK, object)
            }
            (Method::DELETE, Some(name), false) => {
                let key = route.key(name);
                match cascade(&mut state, &key) {
                    Some(object) => (StatusCode::OK, object),
                    None => not_found(path),
                }
            }
            (Method::POST, None, _) => {
                // Events, Leases and other creations.
                let Some(mut object) = body else {
                    return (
                        StatusCode::BAD_REQUEST,
                        json!({"kind": "Status", "code": 400}),
                    );
                };
                let name = object["metadata"]["name"]
                    .as_str()
                    .unwrap_or("created")
                    .to_owned();
                let key = route.key(&name);
                if state.objects.contains_key(&key) {
                    return conflict("AlreadyExists", path);
                }
                object["metadata"]["namespace"] = json!(route.namespace);
                let object = stored(&mut state, object, None);
                state.objects.insert(key, object.clone());
                (StatusCode::CREATED, object)
            }
            (Method::PUT, Some(name), false) => {
                let key = route.key(name);
                let (Some(object), Some(existing)) = (body, state.objects.get(&key).cloned())
                else {
                    return not_found(path);
                };
                if object["metadata"]["resourceVersion"] != existing["metadata"]["resourceVersion"]
                {
                    return conflict("Conflict", path);
                }
                let object = stored(&mut state, object, Some(&existing));
                state.objects.insert(key, object.clone());
                (StatusCode::OK, object)
            }
            _ => (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"kind": "Status", "code": 405}),
            ),
        }
    }
}

/// `object` as the server stores it: a new resourceVersion, and the uid and creation
/// time of `existing` (or new ones).
fn stored(state: &mut State, mut object: Value, existing: Option<&Value>) -> Value {
    state.version += 1;
    let version = state.version;
    let meta = &mut object["metadata"];
    meta["resourceVersion"] = json!(version.to_string());
    match existing {
        Some(existing) => {
            meta["uid"] = existing["metadata"]["uid"].clone();
            meta["creationTimestamp"] = existing["metadata"]["creationTimestamp"].clone();
        }
        None => {
            let name = meta["name"].as_str().unwrap_or_default().to_owned();
            meta["uid"] = json!(format!("uid-{name}-{version}"));
            meta["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
    }
    object
}

fn conflict(reason: &str, path: &str) -> (StatusCode, Value) {
    (
        StatusCode::CONFLICT,
        json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
            "message": format!("{path}: {reason}"), "reason": reason, "code": 409}),
    )
}

/// Removes `key` and, like the garbage collector, everything it (transitively) owns.
fn cascade(state: &mut State, key: &Key) -> Option<Value> {
    let removed = state.objects.remove(key)?;
    let uid = removed["metadata"]["uid"].clone();
    let dependents: Vec<Key> = state
        .objects
        .iter()
        .filter(|(_, o)| {
            o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
        })
        .map(|(k, _)| k.clone())
        .collect();
    for dependent in dependents {
        cascade(state, &dependent);
    }
    Some(removed)
}

struct PathRoute {
    api_version: String,
    plural: String,
    namespace: String,
    name: Option<String>,
    status: bool,
}

impl PathRoute {
    fn key(&self, name: &str) -> Key {
        (
            self.api_version.clone(),
            self.plural.clone(),
            self.namespace.clone(),
            name.to_owned(),
        )
    }
}

/// `/api/v1/namespaces/{ns}/{plural}[/{name}[/status]]` or the `/apis/{group}/{version}/…`
/// equivalent.
fn parse_path(path: &str) -> Option<PathRoute> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (api_version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ((*version).to_owned(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return None,
    };
    match rest {
        ["namespaces", ns, plural] => Some(PathRoute {
            api_version,
            plural: (*plural).into(),
            namespace: (*ns).into(),
            name: None,
            status: false,
        }),
        ["namespaces", ns, plural, name] => Some(PathRoute {
            api_version,
            plural: (*plural).into(),
            namespace: (*ns).into(),
            name: Some((*name).into()),
            status: false,
        }),
        ["namespaces", ns, plural, name, "status"] => Some(PathRoute {
            api_version,
            plural: (*plural).into(),
            namespace: (*ns).into(),
            name: Some((*name).into()),
            status: true,
        }),
        // Cluster-scoped: `/apis/{group}/{version}/{plural}[/{name}]`.
        [plural] if *plural != "namespaces" => Some(PathRoute {
            api_version,
            plural: (*plural).into(),
            namespace: String::new(),
            name: None,
            status: false,
        }),
        [plural, name] if *plural != "namespaces" => Some(PathRoute {
            api_version,
            plural: (*plural).into(),
            namespace: String::new(),
            name: Some((*name).into()),
            status: false,
        }),
        _ => None,
    }
}

fn key_of(object: &Value) -> Key {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (
        text(&object["apiVersion"]),
        plural(object["kind"].as_str().unwrap_or_default()),
        text(&object["metadata"]["namespace"]),
        text(&object["metadata"]["name"]),
    )
}

/// `NetworkPolicy` → `networkpolicies`, `Route` → `routes`.
pub fn plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if lower.ends_with('s') {
        // `Variables` is its own plural.
        return lower;
    }
    match lower.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{lower}s"),
    }
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| {
            value
                .replace("%3D", "=")
                .replace("%2C", ",")
                .replace("%2F", "/")
        })
    })
}

fn matches_selector(object: &Value, selector: Option<&str>) -> bool {
    let Some(selector) = selector.filter(|s| !s.is_empty()) else {
        return true;
    };
    selector.split(',').all(|term| {
        let Some((key, value)) = term.split_once('=') else {
            return false;
        };
        object["metadata"]["labels"][key] == json!(value)
    })
}

fn not_found(path: &str) -> (StatusCode, Value) {
    (
        StatusCode::NOT_FOUND,
        json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
            "message": format!("{path} not found"), "reason": "NotFound", "code": 404}),
    )
}
