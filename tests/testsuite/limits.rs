//! The governor-limit rule, checked on the generated Apex rather than only argued in
//! docs/apex-design.md: every SOQL query, DML statement, enqueue and callout in a production class
//! comes after a `Budget.can…` check in the same method, or sits in a method whose every call
//! site does (one level: `Delivery.attempt` makes the callout that `Dispatcher.sendAll` budgets).
use std::collections::BTreeMap;

use crate::support::repo_root;

/// Operations that count against a governor limit, as they appear in code with whitespace removed.
const OPERATIONS: [&str; 10] = [
    "[SELECT",
    "Database.insert(",
    "Database.update(",
    "Database.delete(",
    "Database.upsert(",
    "Database.emptyRecycleBin(",
    "System.enqueueJob(",
    ".send(",
    "EventBus.publish(",
    "Database.executeBatch(",
];
/// DML statements (`insert rows;`): keyword, then whitespace, in code with whitespace kept.
const DML_KEYWORDS: [&str; 5] = ["insert ", "update ", "delete ", "upsert ", "undelete "];
const GUARD: &str = "Budget.can";

/// One member of a class (method, constructor, inner class) with its body, code only.
#[derive(Debug)]
struct Member {
    class: String,
    name: String,
    body: String,
}

/// The members of a class: the text between each `{` opened at class depth and its `}`.
fn members(class: &str, source: &str) -> Vec<Member> {
    let (code, _) = sfhooks::apex::split_literals(source);
    let mut members = Vec::new();
    let mut depth = 0usize;
    let mut header_start = 0;
    let mut body_start = 0;
    for (i, c) in code.char_indices() {
        match c {
            '{' => {
                depth += 1;
                if depth == 2 {
                    body_start = i + 1;
                    let header = &code[header_start..i];
                    let before_paren = header.split('(').next().unwrap_or(header);
                    let name = before_paren
                        .split_whitespace()
                        .last()
                        .unwrap_or_default()
                        .to_string();
                    members.push(Member {
                        class: class.to_string(),
                        name,
                        body: String::new(),
                    });
                }
            }
            '}' => {
                if depth == 2 {
                    if let Some(member) = members.last_mut() {
                        member.body = code[body_start..i].to_string();
                    }
                    header_start = i + 1;
                }
                depth = depth.saturating_sub(1);
            }
            ';' if depth == 1 => header_start = i + 1,
            _ => {}
        }
    }
    members
}

/// Byte offsets, in `body`, of every limited operation.
fn operations(body: &str) -> Vec<(usize, String)> {
    let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let mut found = Vec::new();
    for op in OPERATIONS {
        for (at, _) in compact.match_indices(op) {
            found.push((compact_offset_to_body(body, at), op.to_string()));
        }
    }
    for keyword in DML_KEYWORDS {
        for (at, _) in body.match_indices(keyword) {
            let before = body[..at].chars().next_back();
            let statement_start = before.is_none_or(|c| c == '\n' || c == ' ' || c == '{');
            let after = body[at + keyword.len()..].chars().next();
            if statement_start && after.is_some_and(|c| c.is_ascii_alphabetic()) {
                found.push((at, keyword.trim().to_string()));
            }
        }
    }
    found
}

/// The offset in `body` of the `n`-th non-whitespace character.
fn compact_offset_to_body(body: &str, n: usize) -> usize {
    body.char_indices()
        .filter(|(_, c)| !c.is_whitespace())
        .nth(n)
        .map_or(body.len(), |(i, _)| i)
}

fn guarded_before(body: &str, at: usize) -> bool {
    body[..at].contains(GUARD)
}

/// Every call of `class.name(` (or of `name(` inside `class`) with the member it stands in.
fn call_sites<'a>(all: &'a [Member], class: &str, name: &str) -> Vec<(&'a Member, usize)> {
    let qualified = format!("{class}.{name}(");
    let bare = format!("{name}(");
    let mut sites = Vec::new();
    for member in all {
        for (at, _) in member.body.match_indices(&qualified) {
            sites.push((member, at));
        }
        if member.class == class {
            for (at, _) in member.body.match_indices(&bare) {
                let before = member.body[..at].chars().next_back();
                if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                    sites.push((member, at));
                }
            }
        }
    }
    sites
}

/// The operations that break the rule, as `Class.member: operation` lines.
fn unbudgeted(classes: &BTreeMap<String, String>) -> Vec<String> {
    let all: Vec<Member> = classes
        .iter()
        .flat_map(|(class, source)| members(class, source))
        .collect();
    let mut problems = Vec::new();
    for member in &all {
        for (at, op) in operations(&member.body) {
            if guarded_before(&member.body, at) {
                continue;
            }
            let sites = call_sites(&all, &member.class, &member.name);
            let callers_guard =
                !sites.is_empty() && sites.iter().all(|(m, at)| guarded_before(&m.body, *at));
            if !callers_guard {
                problems.push(format!("{}.{}: {op}", member.class, member.name));
            }
        }
    }
    problems
}

/// The production classes (not `@IsTest`) of a generated tree, class name -> source.
fn production_classes(classes_dir: &std::path::Path) -> BTreeMap<String, String> {
    let mut classes = BTreeMap::new();
    for entry in std::fs::read_dir(classes_dir).expect("classes folder") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("cls") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("utf-8 class");
        let code = sfhooks::apex::split_literals(&source).0;
        if code.contains("@IsTest") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("class name")
            .to_string();
        classes.insert(name, source);
    }
    classes
}

#[test]
fn every_limited_operation_of_the_generated_apex_is_budgeted() {
    let scenarios = repo_root().join("fixtures/scenarios");
    let mut checked = 0;
    for entry in std::fs::read_dir(&scenarios).expect("fixtures/scenarios") {
        let classes_dir = entry.expect("entry").path().join("expected/classes");
        if !classes_dir.is_dir() {
            continue;
        }
        let classes = production_classes(&classes_dir);
        let operations: usize = classes
            .iter()
            .flat_map(|(class, source)| members(class, source))
            .map(|m| operations(&m.body).len())
            .sum();
        // The dispatcher, outbox, sweeper, replay and finalizer hold at least a dozen between them;
        // finding none would mean the scan is blind, not that the code is clean.
        assert!(
            operations >= 12,
            "{}: only {operations} operations found",
            classes_dir.display()
        );
        let problems = unbudgeted(&classes);
        assert!(
            problems.is_empty(),
            "{}: {problems:#?}",
            classes_dir.display()
        );
        checked += 1;
    }
    assert_eq!(
        checked, 5,
        "every scenario of fixtures/scenarios is checked"
    );
}

#[test]
fn the_budget_check_catches_an_unbudgeted_operation() {
    let source = "public class XBroken {
  public static void save(List<Account> rows) {
    if (!XBudget.canDml(rows.size())) {
      return;
    }
    Database.update(rows, false);
  }

  public static void plain(List<Account> rows) {
    insert rows;
  }

  public static List<Account> load() {
    // XBudget.canQuery(1) in a comment is no check
    return [
      SELECT Id
      FROM Account
    ];
  }

  private static void send(HttpRequest r) {
    new Http().send(r);
  }

  public static void sendChecked(HttpRequest r) {
    if (XBudget.canCallout()) {
      send(r);
    }
  }

  public static void sendUnchecked(HttpRequest r) {
    send(r);
  }

  private static void chainChecked() {
    if (XBudget.canEnqueue(0)) {
      XQueue.start();
    }
  }
}
";
    let queue = "public class XQueue {
  public static void start() {
    System.enqueueJob(new XQueue());
  }
}
";
    let classes = BTreeMap::from([
        ("XBroken".to_string(), source.to_string()),
        ("XQueue".to_string(), queue.to_string()),
    ]);
    assert_eq!(
        unbudgeted(&classes),
        [
            "XBroken.plain: insert",
            "XBroken.load: [SELECT",
            "XBroken.send: .send("
        ],
        "a guarded update passes, and so does an enqueue whose only caller is guarded; a DML \
         statement, a SOQL query guarded only in a comment, and a callout with one unguarded \
         caller fail"
    );
}
