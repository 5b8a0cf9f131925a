//! Checks the text of every statement the crate can send against [`super::functions`]: each
//! function call is qualified with its schema and listed in `CALLED` (and each listed
//! function is called), each bind parameter and each cast names a `pg_catalog` type, and
//! each operator is written `OPERATOR(pg_catalog.op)`. The bodies of `DO` blocks are checked
//! the same way. A second check finds every statement constant and renderer in the
//! module's source, so none can be left out of the corpus.

use std::collections::BTreeSet;

use super::functions::{FunctionHome, FunctionKind, Schemas, CALLED};
use super::hypertable::{CreateArgs, IntervalKind, TableName};
use super::role::Privilege;
use super::user_mapping::{OptionChange, RoleSpec};
use super::*;
use crate::ident::Ident;
use crate::version::Version;

/// The extension schema the corpus is rendered with: a name that needs quoting.
const API: &str = "ts api";

fn id(name: &str) -> Ident {
    Ident::new(name).unwrap()
}

/// A template as the server's `format` completes it (`pg_temp.tsmn_secret`): `%L` becomes a
/// literal, `%%` a `%`.
fn filled(template: &quiet::SecretTemplate) -> Sql {
    Sql::rendered(template.text().replace("%L", "'secret'").replace("%%", "%"))
}

/// Every statement the crate can send, by the name of the constant or renderer that makes
/// it; renderers with choices are rendered with each.
fn corpus() -> Vec<(&'static str, Sql)> {
    let new = Schemas::new(id(API), "_timescaledb_functions");
    let old = Schemas::new(id(API), "_timescaledb_internal");
    let table = TableName::qualified(id("s"), id("t"));
    let mut all = vec![
        (
            "create_superuser",
            bootstrap::create_superuser(&id("admin")),
        ),
        (
            "create_database",
            bootstrap::create_database(&id("db"), &id("admin")),
        ),
        ("copy_in_binary", copy::copy_in_binary(&table, &[id("a")])),
        ("chunk_rows", hypertable::chunk_rows(&table)),
        ("TABLE_COLUMNS", copy::TABLE_COLUMNS),
        ("INGEST_TARGET", copy::INGEST_TARGET),
        ("add_data_node", data_node::add_data_node(&new)),
        ("LIST_DATA_NODES", data_node::LIST_DATA_NODES),
        ("distributed_exec", data_node::distributed_exec(&new)),
        ("ROUND_TRIP", data_node::ROUND_TRIP),
        ("INSTALLED_VERSION", extension::INSTALLED_VERSION),
        ("EXTENSION_STATE", extension::EXTENSION_STATE),
        ("update", extension::update(None)),
        ("update", extension::update(Some(Version::new(2, 13, 1)))),
        ("create", extension::create(None)),
        ("create", extension::create(Some(Version::new(2, 13, 1)))),
        ("heal", heal::heal(&new)),
        ("heal", heal::heal(&old)),
        ("REMOTE_TXN_COUNT", heal::REMOTE_TXN_COUNT),
        ("ADVANCE_XID", heal::ADVANCE_XID),
        ("HYPERTABLE", hypertable::HYPERTABLE),
        ("HYPERTABLES", hypertable::HYPERTABLES),
        ("RESOLVE_TABLE", hypertable::RESOLVE_TABLE),
        ("COPIED_NAMES", hypertable::COPIED_NAMES),
        ("CHUNKS", hypertable::CHUNKS),
        ("delete_data_node", lifecycle::delete_data_node(&new, false)),
        ("delete_data_node", lifecycle::delete_data_node(&new, true)),
        ("detach_data_node", lifecycle::detach_data_node(&new, false)),
        ("detach_data_node", lifecycle::detach_data_node(&new, true)),
        ("attach_data_node", lifecycle::attach_data_node(&new)),
        ("alter_data_node", lifecycle::alter_data_node(&new)),
        ("BLOCK_NEW_CHUNKS", lifecycle::BLOCK_NEW_CHUNKS),
        ("ALLOW_NEW_CHUNKS", lifecycle::ALLOW_NEW_CHUNKS),
        (
            "set_replication_factor",
            lifecycle::set_replication_factor(&new),
        ),
        (
            "set_chunk_time_interval",
            lifecycle::set_chunk_time_interval(&new),
        ),
        ("HYPERTABLE_DIMENSIONS", lifecycle::HYPERTABLE_DIMENSIONS),
        (
            "create_distributed_restore_point",
            lifecycle::create_distributed_restore_point(&new),
        ),
        (
            "USER_MAPPINGS_OF_SERVER",
            lifecycle::USER_MAPPINGS_OF_SERVER,
        ),
        (
            "alter_role_password",
            filled(&role::alter_role_password(&id("r"))),
        ),
        ("login_role", filled(&role::login_role(&id("r"), true))),
        ("login_role", filled(&role::login_role(&id("r"), false))),
        (
            "grant_on_table",
            role::grant_on_table(&[Privilege::Select, Privilege::All], &table, &id("r")),
        ),
        (
            "revoke_on_table",
            role::revoke_on_table(&["INSERT", "TRIGGER"], &table, &id("r")),
        ),
        ("DIRECT_TABLE_PRIVILEGES", role::DIRECT_TABLE_PRIVILEGES),
        ("ROLE_EXISTS", role::ROLE_EXISTS),
        ("ROLE_LOGIN", role::ROLE_LOGIN),
        ("ROLE_VERIFIER", role::ROLE_VERIFIER),
        ("ROLES_LOGIN", role::ROLES_LOGIN),
        ("ROLES_LOGIN_VERIFIER", role::ROLES_LOGIN_VERIFIER),
        ("SCHEMA_GRANT_STATE", role::SCHEMA_GRANT_STATE),
        (
            "grant_on_all_tables",
            role::grant_on_all_tables(&[Privilege::Select], &id("s"), &id("r")),
        ),
        (
            "default_privileges",
            role::default_privileges(&[Privilege::Select], &id("s"), &id("r")),
        ),
        ("HAS_TABLE_PRIVILEGE", role::HAS_TABLE_PRIVILEGE),
        ("SERVER_INFO", server_info::SERVER_INFO),
        ("SERVER_INFO_BRIEF", server_info::SERVER_INFO_BRIEF),
        ("DIST_IDENTITY", server_info::DIST_IDENTITY),
        ("ROLE_IS_SUPERUSER", server_info::ROLE_IS_SUPERUSER),
        ("STANDARD_STRINGS", server_info::STANDARD_STRINGS),
        ("managed_admin", bootstrap::managed_admin(&id("admin"))),
        (
            "managed_timescaledb",
            bootstrap::managed_timescaledb(&id("admin")),
        ),
        ("SEND", quiet::SEND),
        (
            "send_literal_by_role",
            quiet::send_literal_by_role(
                "r",
                &role::login_role(&id("r"), true),
                &role::login_role(&id("r"), false),
                "verifier",
            ),
        ),
        ("guard", quiet::guard(quiet::Carriage::Bound, false)),
        ("guard", quiet::guard(quiet::Carriage::Relayed, true)),
        ("guard", quiet::guard(quiet::Carriage::Literal, false)),
        ("RESTORE", quiet::RESTORE),
        ("CATALOG_FIRST", session::CATALOG_FIRST),
        ("RESET_SEARCH_PATH", session::RESET_SEARCH_PATH),
        ("SESSION_SETUP", session::SESSION_SETUP),
        ("PING", session::PING),
        ("APPLY_LOCK", session::APPLY_LOCK),
        ("APPLY_UNLOCK", session::APPLY_UNLOCK),
        ("APPLY_LOCK_HOLDER", session::APPLY_LOCK_HOLDER),
        ("STATEMENT_TIMEOUT", session::STATEMENT_TIMEOUT),
        ("BEGIN", session::BEGIN),
        ("BEGIN_READ_ONLY", session::BEGIN_READ_ONLY),
        ("COMMIT", session::COMMIT),
        ("ROLLBACK", session::ROLLBACK),
        ("PREPARED_TRANSACTIONS", status::PREPARED_TRANSACTIONS),
        ("UNDER_REPLICATED_CHUNKS", status::UNDER_REPLICATED_CHUNKS),
        ("ping", status::ping(&new)),
        ("ping", status::ping(&old)),
        ("HYPERTABLE_DATA_NODES", status::HYPERTABLE_DATA_NODES),
        ("DATA_NODE_NAMES", status::DATA_NODE_NAMES),
        (
            "create",
            filled(&user_mapping::create(
                &RoleSpec::CurrentUser,
                &id("dn1"),
                Some(&id("u")),
                true,
                true,
            )),
        ),
        (
            "replace",
            filled(&user_mapping::replace(
                &RoleSpec::Named(id("r")),
                &id("dn1"),
                Some(&id("u")),
                true,
            )),
        ),
        (
            "drop",
            user_mapping::drop(&RoleSpec::Public, &id("dn1"), true),
        ),
        ("MAPPING_OPTION_NAMES", user_mapping::MAPPING_OPTION_NAMES),
        ("ROLE_MAPPINGS", user_mapping::ROLE_MAPPINGS),
        (
            "CURRENT_USER_MAPPING_OPTIONS",
            user_mapping::CURRENT_USER_MAPPING_OPTIONS,
        ),
        ("CURRENT_USER", user_mapping::CURRENT_USER),
        ("EMPTY_SEARCH_PATH", migrate_source::EMPTY_SEARCH_PATH),
        ("STABLE_TEXT", migrate_source::STABLE_TEXT),
        ("DIMENSIONS", migrate_source::DIMENSIONS),
        ("COLUMNS", migrate_source::COLUMNS),
        ("CONSTRAINTS", migrate_source::CONSTRAINTS),
        ("INDEXES", migrate_source::INDEXES),
        ("GRANTS", migrate_source::GRANTS),
        ("CHUNKS", migrate_source::CHUNKS),
        ("CHUNK_SIZES", migrate_source::CHUNK_SIZES),
        (
            "copy_out_binary",
            migrate_source::copy_out_binary(&table, &[id("a"), id("b")]),
        ),
        ("CREATE_STATE", migrate_target::CREATE_STATE),
        ("STATE_EXISTS", migrate_target::STATE_EXISTS),
        ("TABLE_RECORDED", migrate_target::TABLE_RECORDED),
        ("RECORD_TABLE", migrate_target::RECORD_TABLE),
        ("CHUNKS_RECORDED", migrate_target::CHUNKS_RECORDED),
        ("RECORD_CHUNK", migrate_target::RECORD_CHUNK),
        ("FORGET_CHUNKS", migrate_target::FORGET_CHUNKS),
        ("INDEXED", migrate_target::INDEXED),
        ("RECORD_INDEXED", migrate_target::RECORD_INDEXED),
        ("create_schema", migrate_target::create_schema(&id("s"))),
        (
            "create_table",
            migrate_target::create_table(
                &table,
                &[migrate_target::ColumnDef {
                    name: id("a"),
                    type_text: "integer".into(),
                    collation: Some((id("pg_catalog"), id("C"))),
                    not_null: true,
                    default: Some("0".into()),
                    generated: None,
                }],
                &[(id("k"), "UNIQUE (a)".into())],
            ),
        ),
        (
            "server_index",
            migrate_target::server_index("CREATE INDEX i ON s.t USING btree (a)".into()),
        ),
        (
            "create_hypertable",
            migrate_target::create_hypertable(&new, IntervalKind::Interval),
        ),
        (
            "create_hypertable",
            migrate_target::create_hypertable(&new, IntervalKind::Integer),
        ),
        (
            "grant",
            migrate_target::grant(
                migrate_target::TablePrivilege::Select,
                &table,
                Some(&id("r")),
                true,
            ),
        ),
        (
            "grant",
            migrate_target::grant(migrate_target::TablePrivilege::Trigger, &table, None, false),
        ),
        (
            "chunk_checksum",
            migrate_verify::chunk_checksum(&table, &[id("a"), id("b")]),
        ),
        (
            "range_checksum",
            migrate_verify::range_checksum(&table, &[id("a")], &id("a"), IntervalKind::Interval),
        ),
        (
            "range_checksum",
            migrate_verify::range_checksum(&table, &[id("a")], &id("a"), IntervalKind::Integer),
        ),
        (
            "delete_range",
            migrate_target::delete_range(&table, &id("a"), IntervalKind::Interval),
        ),
        (
            "delete_range",
            migrate_target::delete_range(&table, &id("a"), IntervalKind::Integer),
        ),
        ("newest", migrate_target::newest(&table, &id("a"))),
    ];
    if let Some(template) = user_mapping::alter(
        &RoleSpec::Named(id("r")),
        &id("dn1"),
        Some((OptionChange::Set, &id("u"))),
        Some(OptionChange::Add),
    ) {
        all.push(("alter", filled(&template)));
    }
    for partitioning in [false, true] {
        for interval in [
            None,
            Some(IntervalKind::Interval),
            Some(IntervalKind::Integer),
        ] {
            let args = CreateArgs {
                partitioning_column: partitioning,
                number_partitions: partitioning,
                chunk_interval: interval,
                replication_factor: !partitioning,
                data_nodes: partitioning,
            };
            all.push((
                "create_distributed",
                hypertable::create_distributed(&new, args),
            ));
        }
    }
    all
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An unquoted word, as written.
    Word(String),
    /// A quoted identifier, unescaped.
    Quoted(String),
    /// A string literal, unescaped.
    Literal(String),
    Param,
    Number,
    Op(String),
    Punct(char),
}

fn is_op_char(c: char) -> bool {
    "+-*/<>=~!@#%^&|`?:".contains(c)
}

fn lex(sql: &str) -> Vec<Tok> {
    let chars: Vec<char> = sql.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    // The text of a quoted token starting at `i` (the opening quote), and the index after.
    let quoted = |mut i: usize, quote: char, escapes: bool| -> (String, usize) {
        let mut text = String::new();
        i += 1;
        loop {
            let c = *chars
                .get(i)
                .unwrap_or_else(|| panic!("unclosed {quote} in {sql}"));
            if escapes && c == '\\' {
                text.push(chars[i + 1]);
                i += 2;
            } else if c == quote && chars.get(i + 1) == Some(&quote) {
                text.push(quote);
                i += 2;
            } else if c == quote {
                return (text, i + 1);
            } else {
                text.push(c);
                i += 1;
            }
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '\'' {
            let (text, next) = quoted(i, '\'', false);
            toks.push(Tok::Literal(text));
            i = next;
        } else if (c == 'E' || c == 'e') && chars.get(i + 1) == Some(&'\'') {
            let (text, next) = quoted(i + 1, '\'', true);
            toks.push(Tok::Literal(text));
            i = next;
        } else if c == '"' {
            let (text, next) = quoted(i, '"', false);
            toks.push(Tok::Quoted(text));
            i = next;
        } else if c == '$' {
            i += 1;
            assert!(
                chars.get(i).is_some_and(char::is_ascii_digit),
                "only $n parameters are expected: {sql}"
            );
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            toks.push(Tok::Param);
        } else if c.is_ascii_digit() {
            while chars
                .get(i)
                .is_some_and(|c| c.is_ascii_digit() || *c == '.')
            {
                i += 1;
            }
            toks.push(Tok::Number);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
            {
                i += 1;
            }
            toks.push(Tok::Word(chars[start..i].iter().collect()));
        } else if is_op_char(c) {
            let start = i;
            while chars.get(i).copied().is_some_and(is_op_char) {
                i += 1;
            }
            toks.push(Tok::Op(chars[start..i].iter().collect()));
        } else if "(),;.[]".contains(c) {
            toks.push(Tok::Punct(c));
            i += 1;
        } else {
            panic!("unexpected {c:?} in {sql}");
        }
    }
    toks
}

/// Words that may stand before `(` without being a function call.
const KEYWORDS: &[&str] = &[
    "ALL", "AND", "ANY", "ARRAY", "AS", "CASE", "COALESCE", "ELSE", "EXISTS", "FROM", "IN", "JOIN",
    "LATERAL", "WHEN", "NOT", "ON", "OPTIONS", "OR", "SELECT", "THEN", "VALUES", "WHERE",
];

/// What a statement called.
#[derive(Default)]
struct Found {
    calls: BTreeSet<&'static str>,
}

fn word(tok: Option<&Tok>) -> Option<String> {
    match tok {
        Some(Tok::Word(w)) => Some(w.to_ascii_uppercase()),
        _ => None,
    }
}

fn home_of(schema: &Tok) -> Option<FunctionHome> {
    match schema {
        Tok::Word(w) if w == "pg_catalog" => Some(FunctionHome::PgCatalog),
        Tok::Word(w) if w == "_timescaledb_functions" || w == "_timescaledb_internal" => {
            Some(FunctionHome::Internal)
        }
        Tok::Word(w) if w == "timescaledb_experimental" => Some(FunctionHome::Experimental),
        Tok::Word(w) if w == "pg_temp" => Some(FunctionHome::SessionTemp),
        Tok::Quoted(q) if q == API => Some(FunctionHome::Api),
        _ => None,
    }
}

/// Checks one statement's tokens; `label` names it in failures.
fn check_statement(label: &str, toks: &[Tok], found: &mut Found) {
    let first = word(toks.first());
    match first.as_deref() {
        // No expressions: nothing to resolve.
        Some("SET" | "RESET" | "BEGIN" | "COMMIT" | "ROLLBACK") | None => return,
        Some("DO") => {
            let [Tok::Word(_), Tok::Literal(body)] = toks else {
                panic!("{label}: a DO statement is DO '<body>'");
            };
            return check_block(label, body, found);
        }
        _ => {}
    }
    // COPY, CREATE TABLE and CREATE INDEX: a name before `(` is a table before its columns
    // or an index method before its keys, not a call. (A migration's CREATE TABLE and
    // CREATE INDEX carry types, defaults, constraints and index keys as the source server
    // rendered them; the corpus renders them with plain placeholders.)
    let second = word(toks.get(1));
    let names_only = match first.as_deref() {
        Some("COPY") => true,
        Some("CREATE") => matches!(second.as_deref(), Some("TABLE" | "INDEX" | "UNIQUE")),
        _ => false,
    };
    check_tokens(label, toks, names_only, found);
}

/// Checks a dollar-quoted `DO` block (`DO $tag$ DECLARE ... BEGIN ... END $tag$`): its
/// variables' types are `pg_catalog` types, and its first statement is
/// [`quiet::LOCK_SEARCH_PATH`], after which every name in it resolves in `pg_catalog` only;
/// its calls of `pg_catalog` and `pg_temp` functions are collected (each must be listed).
fn check_locked_block(label: &str, text: &str, found: &mut Found) {
    let text = text.trim();
    let open_end = text[4..]
        .find('$')
        .unwrap_or_else(|| panic!("{label}: an unclosed dollar quote"))
        + 5;
    let tag = &text[3..open_end];
    assert!(
        text.ends_with(tag) && text.len() > open_end + tag.len(),
        "{label}: DO {tag}...{tag} is the whole statement"
    );
    let body = text[open_end..text.len() - tag.len()].trim();
    let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let (declare, rest) = match body.strip_prefix("DECLARE") {
        Some(after) => after
            .split_once("BEGIN")
            .unwrap_or_else(|| panic!("{label}: DECLARE without BEGIN")),
        None => (
            "",
            body.strip_prefix("BEGIN")
                .unwrap_or_else(|| panic!("{label}: the block starts with BEGIN")),
        ),
    };
    for variable in declare.split(';').map(str::trim).filter(|v| !v.is_empty()) {
        let ty = variable.split_whitespace().nth(1).unwrap_or_default();
        assert!(
            ty.starts_with("pg_catalog."),
            "{label}: variable {variable:?} has a type outside pg_catalog"
        );
    }
    let first = rest.split_once(';').map(|(f, _)| f).unwrap_or_default();
    assert_eq!(
        squeeze(&format!("{first};")),
        squeeze(quiet::LOCK_SEARCH_PATH),
        "{label}: the block's first statement locks the search path"
    );
    for schema in ["pg_catalog.", "pg_temp."] {
        let mut at = 0;
        while let Some(found_at) = body[at..].find(schema) {
            let start = at + found_at + schema.len();
            let name: String = body[start..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            at = start + name.len();
            if !body[at..].starts_with('(') {
                continue;
            }
            let called = CALLED
                .iter()
                .find(|f| f.name == name)
                .unwrap_or_else(|| panic!("{label}: {name} is not in CALLED"));
            found.calls.insert(called.name);
        }
    }
}

/// Checks the body of a PL/pgSQL block: its statements, with its own keywords.
fn check_block(label: &str, body: &str, found: &mut Found) {
    let toks = lex(body);
    for statement in toks.split(|t| *t == Tok::Punct(';')) {
        let statement = match word(statement.first()).as_deref() {
            Some("BEGIN") => &statement[1..],
            _ => statement,
        };
        match word(statement.first()).as_deref() {
            Some("END") | None => {}
            _ => check_tokens(label, statement, false, found),
        }
    }
}

fn check_tokens(label: &str, toks: &[Tok], copy: bool, found: &mut Found) {
    let mut i = 0;
    while i < toks.len() {
        let tok = &toks[i];
        let next = toks.get(i + 1);
        match tok {
            Tok::Word(w) if w.eq_ignore_ascii_case("OPERATOR") => {
                let ok = matches!(
                    &toks[i + 1..],
                    [Tok::Punct('('), Tok::Word(s), Tok::Punct('.'), Tok::Op(_), Tok::Punct(')'), ..]
                        if s == "pg_catalog"
                );
                assert!(ok, "{label}: OPERATOR must name a pg_catalog operator");
                i += 6;
                continue;
            }
            Tok::Op(op) if op == "::" => {
                let ok = matches!(
                    &toks[i + 1..],
                    [Tok::Word(s), Tok::Punct('.'), Tok::Word(_), ..] if s == "pg_catalog"
                );
                assert!(
                    ok,
                    "{label}: a cast to a type outside pg_catalog, at token {i}"
                );
            }
            Tok::Op(op) if op == "=>" => {
                assert!(
                    matches!(i.checked_sub(1).map(|p| &toks[p]), Some(Tok::Word(_))),
                    "{label}: => after something other than a parameter name"
                );
            }
            Tok::Op(op) if op == "*" => {
                let ok = i > 0 && toks[i - 1] == Tok::Punct('(') && next == Some(&Tok::Punct(')'));
                assert!(ok, "{label}: * is only for count(*)");
            }
            Tok::Op(op) => panic!("{label}: bare operator {op}; write OPERATOR(pg_catalog.{op})"),
            Tok::Param => {
                let ok = matches!(
                    &toks[i + 1..],
                    [Tok::Op(c), Tok::Word(s), ..] if c == "::" && s == "pg_catalog"
                );
                assert!(ok, "{label}: a bind parameter without a pg_catalog cast");
            }
            // COPY has no expressions: a name before `(` is a table before its columns.
            Tok::Word(_) | Tok::Quoted(_) if next == Some(&Tok::Punct('(')) && !copy => {
                let qualified = i >= 2 && toks[i - 1] == Tok::Punct('.');
                if qualified {
                    let home = home_of(&toks[i - 2])
                        .unwrap_or_else(|| panic!("{label}: a call in an unknown schema"));
                    let name = match tok {
                        Tok::Word(w) | Tok::Quoted(w) => w.as_str(),
                        _ => unreachable!(),
                    };
                    let called = CALLED
                        .iter()
                        .find(|f| f.name == name)
                        .unwrap_or_else(|| panic!("{label}: {name} is not in CALLED"));
                    assert_eq!(called.home, home, "{label}: {name} in the wrong schema");
                    let call = word(i.checked_sub(3).map(|p| &toks[p])).as_deref() == Some("CALL");
                    assert_eq!(
                        call,
                        called.kind == FunctionKind::Procedure,
                        "{label}: {name} is CALLed if and only if it is a procedure"
                    );
                    found.calls.insert(called.name);
                } else {
                    let keyword = matches!(tok, Tok::Word(w)
                        if KEYWORDS.contains(&w.to_ascii_uppercase().as_str()));
                    assert!(keyword, "{label}: unqualified call of {tok:?}");
                }
            }
            _ => {}
        }
        i += 1;
    }
}

fn check(label: &str, sql: &Sql, found: &mut Found) {
    if sql.text().trim_start().starts_with("DO $") {
        return check_locked_block(label, sql.text(), found);
    }
    let toks = lex(sql.text());
    for statement in toks.split(|t| *t == Tok::Punct(';')) {
        check_statement(label, statement, found);
    }
}

#[test]
fn every_call_is_qualified_typed_and_listed() {
    let mut found = Found::default();
    for (label, sql) in corpus() {
        check(label, &sql, &mut found);
    }
    let listed: BTreeSet<&str> = CALLED.iter().map(|f| f.name).collect();
    assert_eq!(
        found.calls, listed,
        "CALLED must list exactly the functions the statements call"
    );
}

#[test]
fn the_checker_refuses_what_it_should() {
    let refused = [
        "SELECT add_data_node($1::pg_catalog.name)",
        "SELECT \"ts api\".add_data_node($1)",
        "SELECT \"ts api\".add_data_node($1::name)",
        "SELECT \"public\".add_data_node($1::pg_catalog.name)",
        "SELECT pg_catalog.nope()",
        "SELECT x FROM t WHERE a = b",
        "SELECT x FROM t WHERE a OPERATOR(public.=) b",
        "SELECT 'a' || 'b'",
        "SELECT \"ts api\".distributed_exec($1::pg_catalog.text)",
        "CALL pg_catalog.count(*)",
        "DO 'BEGIN EXECUTE format(''x''); END'",
    ];
    for sql in refused {
        let text = sql.to_owned();
        let result = std::panic::catch_unwind(|| {
            check("refused", &Sql::rendered(text), &mut Found::default());
        });
        assert!(result.is_err(), "the checker let through {sql}");
    }
    let mut found = Found::default();
    check(
        "accepted",
        &Sql::from_static(
            "SELECT pg_catalog.count(*) FROM x WHERE a OPERATOR(pg_catalog.=) 'a=b'; \
             COPY \"t\" (\"a\") FROM STDIN (FORMAT binary); SET x = -1",
        ),
        &mut found,
    );
    assert_eq!(found.calls.into_iter().collect::<Vec<_>>(), ["count"]);
}

/// Every statement constant and renderer of this module, found in its source: what the
/// corpus must hold.
fn declared() -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sql");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_owned();
        // The checker itself, `Sql`'s constructors, quoting, caller SQL and plan display
        // text (nothing there is sent).
        if ["audit.rs", "mod.rs", "quote.rs", "raw.rs", "plan.rs"].contains(&file.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let line = line.trim_start();
            for prefix in [
                "pub(crate) const ",
                "pub(crate) static ",
                "const ",
                "static ",
            ] {
                if let Some(rest) = line.strip_prefix(prefix) {
                    if let Some((name, ty)) = rest.split_once(':') {
                        if ty.trim_start().starts_with("Sql ") {
                            names.insert(name.trim().to_owned());
                        }
                    }
                }
            }
        }
        // Renderers: `fn name(...) -> Sql`, the signature possibly over several lines.
        let mut rest = text.as_str();
        while let Some(at) = rest.find("fn ") {
            rest = &rest[at + 3..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let signature = &rest[..rest.find('{').unwrap_or(rest.len())];
            let returns = signature.rsplit_once("->").map(|(_, r)| r.trim());
            if matches!(
                returns,
                Some(
                    "Sql"
                        | "Option<Sql>"
                        | "&'static Sql"
                        | "SecretTemplate"
                        | "Option<SecretTemplate>"
                )
            ) {
                names.insert(name);
            }
        }
    }
    names
}

#[test]
fn the_corpus_holds_every_statement() {
    let labels: BTreeSet<String> = corpus().iter().map(|(l, _)| (*l).to_owned()).collect();
    let declared = declared();
    assert!(declared.len() > 40, "found only {declared:?}");
    let missing: Vec<&String> = declared.difference(&labels).collect();
    assert!(
        missing.is_empty(),
        "statements not in the corpus: {missing:?}"
    );
    let unknown: Vec<&String> = labels.difference(&declared).collect();
    assert!(
        unknown.is_empty(),
        "corpus labels with no statement: {unknown:?}"
    );
}

#[test]
fn no_sql_is_made_outside_this_module() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src.clone()];
    let mut offenders = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path != src.join("sql") {
                    stack.push(path);
                }
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                for pattern in [
                    "Sql::from_static(",
                    "Sql::rendered(",
                    "Sql::rendered_secret(",
                    "batch_execute(\"",
                    "RawSql::vouched(\"",
                ] {
                    if code.contains(pattern) {
                        offenders.push(format!("{}:{}: {code}", path.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "SQL made outside src/sql: {offenders:#?}"
    );
}
