//! Fuzzing the manifest loader and validator (`load_str` + `Catalog::build`) with
//! proptest: arbitrary bytes, mutated copies of every manifest under `examples/`, deeply
//! nested YAML, alias bombs ("billion laughs") and huge scalars. Every case must finish
//! without a panic, within [`MAX_CASE_TIME`], allocating at most [`MAX_CASE_BYTES`] at
//! its peak (counted by the global allocator below, per thread).
//!
//! Bounded for CI: `PROPTEST_CASES` sets the cases of each strategy whose inputs are
//! megabytes (default [`DEFAULT_CASES`], about a second each in a debug build; the small
//! ones run eight times as many). `cargo test` runs it, so `./scripts/test.sh` and
//! `.ci/run` do too.

// A test harness: panicking with a message is how it reports.
#![allow(clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, FailurePersistence};
use switchyard_crds::catalog::Catalog;
use switchyard_crds::manifest::{MAX_FILE_BYTES, load_str};

/// Cases of each expensive strategy unless `PROPTEST_CASES` says otherwise: the whole
/// file runs in well under a minute on a loaded CI machine.
const DEFAULT_CASES: u32 = 16;
/// Longest one case may take (a debug build on a shared machine; a release runner is
/// about ten times faster).
const MAX_CASE_TIME: Duration = Duration::from_secs(20);
/// Most bytes one case may hold allocated at once, its input included. The loader's own
/// budget (a million values, 16 MiB of text per file) stays well below it.
const MAX_CASE_BYTES: usize = 512 << 20;
/// Stack of the thread a case runs on: a tokio worker's, where the runner reloads.
const CASE_STACK_BYTES: usize = 2 << 20;

/// The system allocator, counting what each thread holds now and at its peak.
struct Counting;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn charge(bytes: isize) {
    // `try_with`: a thread being torn down has no counters left; nothing to count then.
    let _ = HELD.try_with(|held| {
        let now = held.get() + bytes;
        held.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is passed to the system allocator unchanged; the counters are
// thread-local cells that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        charge(layout.size() as isize);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        charge(-(layout.size() as isize));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        charge(new_size as isize - layout.size() as isize);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Loads and validates `text` on a thread of its own; the case's peak allocation, or a
/// panic naming the time bound when it does not finish.
fn check(text: String) {
    let (done, finished) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("fuzz-case".into())
        .stack_size(CASE_STACK_BYTES)
        .spawn(move || {
            let start = PEAK.with(|peak| {
                let held = HELD.with(Cell::get);
                peak.set(held);
                held
            });
            let began = Instant::now();
            let (resources, problems) = load_str(&text, Some(Path::new("fuzz.yaml")));
            let catalog = Catalog::build(resources);
            // Messages are built in full, as `runner validate` prints them.
            let printed: usize = problems
                .iter()
                .chain(&catalog.problems)
                .map(|p| p.to_string().len())
                .sum();
            drop((catalog, problems, text));
            let peak = PEAK.with(Cell::get) - start;
            let _ = done.send((began.elapsed(), peak, printed));
        })
        .expect("spawn a case thread");
    match finished.recv_timeout(MAX_CASE_TIME) {
        Ok((took, peak, _)) => {
            assert!(took <= MAX_CASE_TIME, "a case took {took:?}");
            assert!(
                peak <= MAX_CASE_BYTES as isize,
                "a case allocated {} MiB at its peak",
                peak >> 20
            );
            spawned.join().expect("the case thread");
        }
        // The thread panicked: join to pass its panic on.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = spawned.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("a case did not finish within {MAX_CASE_TIME:?}")
        }
    }
}

/// `PROPTEST_CASES` cases (default [`DEFAULT_CASES`]) for the strategies whose inputs are
/// megabytes, `cheap` times as many for those of a few kilobytes.
fn config(cheap: u32) -> Config {
    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases: cases.saturating_mul(cheap),
        // Shrinking a case that takes seconds could take hours; the failing input is
        // printed as found.
        max_shrink_iters: 32,
        failure_persistence: None::<Box<dyn FailurePersistence>>,
        ..Config::default()
    }
}

/// The text of every manifest under `examples/`.
fn examples() -> &'static [String] {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut files = Vec::new();
        yaml_files(&root, &mut files);
        files.sort();
        assert!(!files.is_empty(), "no examples under {}", root.display());
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).expect("read an example"))
            .collect()
    })
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("list examples").flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(path);
        }
    }
}

/// One edit of a text, at a position given as a fraction of its length.
#[derive(Debug, Clone)]
enum Edit {
    Delete { at: f64, len: usize },
    Insert { at: f64, bytes: Vec<u8> },
    InsertYaml { at: f64, token: &'static str },
    Duplicate { at: f64, len: usize, times: usize },
    Flip { at: f64, byte: u8 },
    Truncate { at: f64 },
}

/// Fragments that mean something to YAML, the loader or the validator.
const TOKENS: &[&str] = &[
    "&a ",
    "*a",
    "<<: *a\n",
    "!tag ",
    "---\n",
    "...\n",
    "- ",
    ": ",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "'",
    "|\n",
    ">-\n",
    "\t",
    "\n  ",
    "\n",
    "#",
    "? ",
    "%YAML 1.2\n",
    "~",
    "null",
    "0x1F",
    "1e400",
    "-9223372036854775809",
    ".inf",
    ".nan",
    "kind: Route\n",
    "kind: Connection\n",
    "apiVersion: switchyard.dev/v1alpha1\n",
    "$ref",
    "{{",
    "}}",
    "${",
    ".[] | ",
    "def f: f; f",
    "secretKeyRef: {name: s, key: k}",
    "\u{feff}",
    "\0",
];

fn edit() -> impl Strategy<Value = Edit> {
    let at = 0.0..1.0f64;
    prop_oneof![
        (at.clone(), 1usize..64).prop_map(|(at, len)| Edit::Delete { at, len }),
        (at.clone(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (at.clone(), proptest::sample::select(TOKENS))
            .prop_map(|(at, token)| Edit::InsertYaml { at, token }),
        (at.clone(), 1usize..200, 1usize..8).prop_map(|(at, len, times)| Edit::Duplicate {
            at,
            len,
            times
        }),
        (at.clone(), any::<u8>()).prop_map(|(at, byte)| Edit::Flip { at, byte }),
        at.prop_map(|at| Edit::Truncate { at }),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let position = |at: f64, len: usize| ((at * len as f64) as usize).min(len);
    for edit in edits {
        let len = bytes.len();
        match edit {
            Edit::Delete { at, len: n } => {
                let from = position(*at, len);
                bytes.drain(from..(from + n).min(len));
            }
            Edit::Insert { at, bytes: new } => {
                let at = position(*at, len);
                bytes.splice(at..at, new.iter().copied());
            }
            Edit::InsertYaml { at, token } => {
                let at = position(*at, len);
                bytes.splice(at..at, token.bytes());
            }
            Edit::Duplicate { at, len: n, times } => {
                let from = position(*at, len);
                let piece = bytes[from..(from + n).min(len)].to_vec();
                for _ in 0..*times {
                    bytes.splice(from..from, piece.iter().copied());
                }
            }
            Edit::Flip { at, byte } => {
                if len > 0 {
                    let at = position(*at, len - 1);
                    bytes[at] ^= byte | 1;
                }
            }
            Edit::Truncate { at } => bytes.truncate(position(*at, len)),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Nesting of `depth` levels in one of YAML's styles, inside a Route's spec; the
/// innermost flow sequence holds `width` scalars.
fn nested(style: u8, depth: usize, width: usize) -> String {
    let inner = match style % 4 {
        0 => format!(
            "{}{}{}",
            "[".repeat(depth),
            vec!["x"; width.max(1)].join(", "),
            "]".repeat(depth)
        ),
        1 => format!("{}x{}", "{a: ".repeat(depth), "}".repeat(depth)),
        2 => {
            let mut text = String::new();
            for level in 0..depth.min(2_000) {
                text.push('\n');
                text.push_str(&" ".repeat(level + 4));
                text.push_str("a:");
            }
            text.push_str(" x");
            text
        }
        _ => format!("{}x", "- ".repeat(depth)),
    };
    format!(
        "apiVersion: switchyard.dev/v1alpha1\nkind: Route\nmetadata: {{name: deep}}\nspec:\n  incoming: {{webhook: {{}}}}\n  outgoing: {{connection: c}}\n  transformers:\n    incoming: {inner}\n"
    )
}

/// A "billion laughs" document: `levels` anchors, each `fanout` aliases of the one before.
fn laughs(levels: usize, fanout: usize, in_mapping: bool) -> String {
    let mut text = String::from(
        "apiVersion: switchyard.dev/v1alpha1\nkind: Transformer\nmetadata: {name: lol}\nspec:\n",
    );
    text.push_str("  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..=levels {
        let refs = (0..fanout)
            .map(|i| {
                if in_mapping {
                    format!("k{i}: *a{}", level - 1)
                } else {
                    format!("*a{}", level - 1)
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let (open, close) = if in_mapping { ("{", "}") } else { ("[", "]") };
        text.push_str(&format!("  a{level}: &a{level} {open}{refs}{close}\n"));
    }
    text.push_str(&format!("  steps: *a{levels}\n"));
    text
}

/// A valid Route with one field replaced by a scalar of `len` bytes of `fill`.
fn huge_scalar(field: u8, len: usize, fill: char) -> String {
    let big: String = std::iter::repeat_n(fill, len).collect();
    let quoted = format!("'{}'", big.replace('\'', "''"));
    let (name, filter, url) = match field % 3 {
        0 => (quoted.as_str(), "'.'", "'https://api.example.com/'"),
        1 => ("r", quoted.as_str(), "'https://api.example.com/'"),
        _ => ("r", "'.'", quoted.as_str()),
    };
    format!(
        "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {{name: c}}\nspec: {{http: {{baseUrl: {url}}}}}\n---\napiVersion: switchyard.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  incoming: {{webhook: {{}}}}\n  outgoing: {{connection: c}}\n  transformers:\n    incoming:\n      - jq: {{filter: {filter}}}\n"
    )
}

proptest! {
    #![proptest_config(config(8))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        check(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn mutated_examples(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(edit(), 1..12),
    ) {
        let examples = examples();
        check(apply(&examples[pick.index(examples.len())], &edits));
    }
}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn deeply_nested(
        style in any::<u8>(),
        depth in prop_oneof![1usize..200, 200usize..100_000],
        width in prop_oneof![1usize..10, 10usize..300_000],
    ) {
        check(nested(style, depth, width));
    }

    #[test]
    fn aliases(levels in 1usize..12, fanout in 1usize..12, in_mapping in any::<bool>()) {
        check(laughs(levels, fanout, in_mapping));
    }

    #[test]
    fn huge_scalars(
        field in any::<u8>(),
        len in prop_oneof![1usize..1_000, 1_000usize..(MAX_FILE_BYTES as usize)],
        fill in proptest::sample::select(vec!['x', '(', '[', '{', '.', '|', ' ', 'é', '\\']),
    ) {
        check(huge_scalar(field, len, fill));
    }
}
