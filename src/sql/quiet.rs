//! The statements that keep a secret out of server logs, statistics views and errors (see
//! `crate::secret_send`, which runs them).
//!
//! A secret-carrying utility statement (`CREATE USER MAPPING ... "password" '...'`,
//! `ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...'`) cannot take bind parameters, and the
//! server logs a failing statement's text under its default settings. So the statement is
//! rendered as a [`SecretTemplate`] (the statement with `%L` where the secret goes) and run by
//! a session-private function, `pg_temp.tsmn_secret(template, secret, stash)`, which the
//! server's own `format` completes: the statement the server logs or counts is the call,
//! whose arguments are bind parameters, never the statement text. Errors are re-raised
//! without the dynamic statement in their context, and with the secret replaced in their
//! message, detail and hint. On data nodes, where `distributed_exec` can only send text, the
//! call holds the secret as literals: there the function never fails (it keeps the error in
//! a session setting, which [`RESTORE`] raises), so the text is never logged as a failing
//! statement, and `pg_stat_statements` keeps it with its constants replaced.
//!
//! [`guard`] runs first, in its own transaction (so `log_transaction_sample_rate` is in
//! effect before the secret's transaction starts): a superuser session turns every setting
//! that could record the secret off; any other role gets the settings any role may change
//! turned off, and an error naming the first setting it cannot change that would record the
//! secret (SQLSTATE [`REFUSED_SQLSTATE`]), unless the caller accepted that.

use super::{quote, Sql};

/// The SQLSTATE of the error [`guard`] raises when a setting the role cannot change would
/// record the secret.
pub(crate) const REFUSED_SQLSTATE: &str = "TSMN1";

/// The message prefix of that error; the setting's name follows it.
pub(crate) const REFUSED_PREFIX: &str = "a secret would be recorded by setting ";

/// A statement with one hole, `%L`, for a secret, and every other `%` doubled: the text
/// `pg_catalog.format(template, secret)` completes on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecretTemplate {
    text: String,
}

impl SecretTemplate {
    /// An empty template.
    pub(crate) fn new() -> Self {
        SecretTemplate {
            text: String::new(),
        }
    }

    /// Appends rendered SQL (quoted identifiers and literals, keywords) that holds no secret.
    pub(crate) fn push(mut self, sql: &str) -> Self {
        self.text.push_str(&sql.replace('%', "%%"));
        self
    }

    /// Appends the hole the secret goes in, as a quoted literal.
    pub(crate) fn secret(mut self) -> Self {
        self.text.push_str("%L");
        self
    }

    /// Appends another template (its hole, if any, included).
    pub(crate) fn append(mut self, other: &SecretTemplate) -> Self {
        self.text.push_str(&other.text);
        self
    }

    /// The template text.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}

/// Runs a template with its secret, both bound: `$1` template, `$2` secret. Errors are
/// re-raised (their text never holds the secret, and the call's text holds none).
pub(crate) const SEND: Sql =
    Sql::from_static("SELECT pg_temp.tsmn_secret($1::pg_catalog.text, $2::pg_catalog.text, false)");

/// The call of [`SEND`] with its arguments as literals, for data nodes through
/// `distributed_exec` (which sends text only): the template is `exists` where role `role`
/// exists, else `missing` (`ALTER ROLE` or `CREATE ROLE`), chosen on each node. The function
/// keeps an error for [`RESTORE`] instead of failing.
pub(crate) fn send_literal_by_role(
    role: &str,
    exists: &SecretTemplate,
    missing: &SecretTemplate,
    secret: &str,
) -> Sql {
    Sql::rendered_secret(format!(
        "SELECT pg_temp.tsmn_secret(CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles r \
         WHERE r.rolname OPERATOR(pg_catalog.=) {}::pg_catalog.name) \
         THEN {}::pg_catalog.text ELSE {}::pg_catalog.text END, {}::pg_catalog.text, true)",
        quote::literal(role),
        quote::literal(exists.text()),
        quote::literal(missing.text()),
        quote::literal(secret)
    ))
}

/// How the secret travels in the statements that follow a [`guard`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carriage {
    /// As bind parameters of top-level statements (the access node, a data node reached
    /// directly): logged only where a setting logs parameters.
    Bound,
    /// As bind parameters, and inside the access node's `distributed_exec` call to data
    /// nodes, which TimescaleDB reports at DEBUG2 with the statement's text.
    Relayed,
    /// As literals of a top-level statement (on a data node through `distributed_exec`):
    /// logged wherever a setting logs that statement (DEBUG2 included: the server reports
    /// each statement TimescaleDB's connection parses).
    Literal,
}

/// The settings a superuser session turns off before a secret is sent (session level, each
/// only where the server has it; and `log_min_messages` from a `debug` level to `info`, as
/// TimescaleDB reports each `distributed_exec` statement at DEBUG2); [`RESTORE`] resets them.
/// `auto_explain` logs a statement's text, and with `log_verbose` its plan's expressions with
/// the bound values in them.
const SUPERUSER_QUIET: &[(&str, &str)] = &[
    ("log_statement", "none"),
    ("log_min_duration_statement", "-1"),
    ("log_min_duration_sample", "-1"),
    ("log_statement_sample_rate", "0"),
    ("log_transaction_sample_rate", "0"),
    ("log_min_error_statement", "panic"),
    ("log_parameter_max_length", "0"),
    ("track_activities", "off"),
    ("pg_stat_statements.track", "none"),
    ("pg_stat_statements.track_utility", "off"),
    ("pgaudit.log", "none"),
    ("auto_explain.log_min_duration", "-1"),
];

/// The settings any role may change that are turned off for every role.
const ANY_ROLE_QUIET: &[(&str, &str)] = &[
    ("log_parameter_max_length_on_error", "0"),
    ("debug_print_parse", "off"),
    ("debug_print_rewritten", "off"),
    ("debug_print_plan", "off"),
];

/// Checks, as one `DO` block, that nothing will record a secret sent the way `carriage`
/// says, and turns off what the session may turn off (see the module docs); creates
/// `pg_temp.tsmn_secret`. Raises [`REFUSED_SQLSTATE`] naming a setting that would record the
/// secret and that this role cannot change, unless `accept`.
pub(crate) fn guard(carriage: Carriage, accept: bool) -> Sql {
    let literal = carriage == Carriage::Literal;
    let relayed = carriage == Carriage::Relayed;
    let mut quiet_superuser = String::new();
    for (name, value) in SUPERUSER_QUIET {
        quiet_superuser.push_str(&set_if_exists(name, value));
    }
    let mut quiet_anyone = String::new();
    for (name, value) in ANY_ROLE_QUIET {
        quiet_anyone.push_str(&set_if_exists(name, value));
    }
    let refused = |setting: &str| {
        format!(
            "RAISE EXCEPTION USING ERRCODE = '{REFUSED_SQLSTATE}', \
             MESSAGE = '{REFUSED_PREFIX}{setting}', \
             DETAIL = 'The role is not a superuser, so it cannot turn the setting off for \
its session; a superuser can, or the caller may accept the risk explicitly.'; "
        )
    };
    Sql::rendered(format!(
        "DO $tsmn_guard$ DECLARE \
           params_logged pg_catalog.bool; \
         BEGIN \
           {LOCK_SEARCH_PATH} \
           params_logged := {literal} \
             OR pg_catalog.current_setting('log_parameter_max_length') <> '0'; \
           IF pg_catalog.current_setting('is_superuser') = 'on' THEN {quiet_superuser}\
             IF pg_catalog.current_setting('log_min_messages') LIKE 'debug%' THEN \
               PERFORM pg_catalog.set_config('log_min_messages', 'info', false); \
             END IF; \
           ELSIF NOT {accept} THEN \
             IF params_logged AND pg_catalog.current_setting('log_statement') = 'all' THEN {r_statement} END IF; \
             IF params_logged AND pg_catalog.current_setting('log_min_duration_statement') <> '-1' THEN {r_duration} END IF; \
             IF params_logged AND pg_catalog.current_setting('log_min_duration_sample') <> '-1' \
                AND pg_catalog.current_setting('log_statement_sample_rate')::float8 > 0 THEN {r_sample} END IF; \
             IF params_logged AND pg_catalog.current_setting('log_transaction_sample_rate')::float8 > 0 THEN {r_xact} END IF; \
             IF pg_catalog.current_setting('pg_stat_statements.track', true) = 'all' \
                AND pg_catalog.current_setting('pg_stat_statements.track_utility', true) = 'on' THEN {r_pgss} END IF; \
             IF coalesce(pg_catalog.current_setting('pgaudit.log', true), 'none') <> 'none' THEN {r_audit} END IF; \
             IF coalesce(pg_catalog.current_setting('auto_explain.log_min_duration', true), '-1') <> '-1' \
                AND coalesce(pg_catalog.current_setting('auto_explain.sample_rate', true), '1')::float8 > 0 \
                AND ({literal} \
                     OR pg_catalog.current_setting('auto_explain.log_verbose', true) = 'on' \
                     OR pg_catalog.current_setting('auto_explain.log_nested_statements', true) = 'on') \
                THEN {r_explain} END IF; \
             IF ({relayed} OR {literal}) AND pg_catalog.current_setting('log_min_messages') \
                IN ('debug2', 'debug3', 'debug4', 'debug5') THEN {r_messages} END IF; \
           END IF; \
           {quiet_anyone}\
           IF pg_catalog.current_setting('client_min_messages') LIKE 'debug%' \
              OR pg_catalog.current_setting('client_min_messages') = 'log' THEN \
             PERFORM pg_catalog.set_config('client_min_messages', 'notice', false); \
           END IF; \
           PERFORM pg_catalog.set_config('tsmn.secret_error', '', false); \
           {FUNCTION} \
         END $tsmn_guard$",
        r_statement = refused("log_statement"),
        r_duration = refused("log_min_duration_statement"),
        r_sample = refused("log_min_duration_sample"),
        r_xact = refused("log_transaction_sample_rate"),
        r_pgss = refused("pg_stat_statements.track"),
        r_audit = refused("pgaudit.log"),
        r_explain = refused("auto_explain.log_min_duration"),
        r_messages = refused("log_min_messages"),
    ))
}

/// The first statement of every `DO` block here: until the block's transaction ends, names
/// resolve in `pg_catalog` only, so no look-alike function, operator or type that another
/// role created in a schema of the session's search path (TimescaleDB puts the access
/// node's path, `public` included, on its data-node connections) is used in its place. The
/// variables' types are qualified, as they are resolved before it runs.
pub(crate) const LOCK_SEARCH_PATH: &str =
    "PERFORM pg_catalog.set_config('search_path', 'pg_catalog', true);";

/// `set_config(name, value)` for the session, where the server has the setting.
fn set_if_exists(name: &str, value: &str) -> String {
    format!(
        "IF pg_catalog.current_setting('{name}', true) IS NOT NULL THEN \
           PERFORM pg_catalog.set_config('{name}', '{value}', false); END IF; "
    )
}

/// The session-private function that completes and runs a template (see the module docs).
const FUNCTION: &str = "CREATE OR REPLACE FUNCTION pg_temp.tsmn_secret(\
       template pg_catalog.text, secret pg_catalog.text, stash pg_catalog.bool) \
     RETURNS pg_catalog.void LANGUAGE plpgsql SET search_path = pg_catalog AS $tsmn_fn$ \
     DECLARE st pg_catalog.text; msg pg_catalog.text; det pg_catalog.text; \
       hnt pg_catalog.text; \
     BEGIN \
       EXECUTE pg_catalog.format(template, secret); \
     EXCEPTION WHEN OTHERS THEN \
       GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, \
         det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT; \
       det := coalesce(det, ''); hnt := coalesce(hnt, ''); \
       IF secret <> '' THEN \
         msg := pg_catalog.replace(pg_catalog.replace(msg, pg_catalog.quote_literal(secret), \
           '[REDACTED]'), secret, '[REDACTED]'); \
         det := pg_catalog.replace(pg_catalog.replace(det, pg_catalog.quote_literal(secret), \
           '[REDACTED]'), secret, '[REDACTED]'); \
         hnt := pg_catalog.replace(pg_catalog.replace(hnt, pg_catalog.quote_literal(secret), \
           '[REDACTED]'), secret, '[REDACTED]'); \
       END IF; \
       IF stash THEN \
         PERFORM pg_catalog.set_config('tsmn.secret_error', st || ':' || msg, false); \
       ELSIF det = '' AND hnt = '' THEN \
         RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg; \
       ELSIF hnt = '' THEN \
         RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det; \
       ELSIF det = '' THEN \
         RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, HINT = hnt; \
       ELSE \
         RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det, HINT = hnt; \
       END IF; \
     END $tsmn_fn$;";

/// Undoes [`guard`] (a superuser's settings too), and raises the error a data node's
/// `pg_temp.tsmn_secret` kept, if any (its SQLSTATE and message).
pub(crate) const RESTORE: Sql = Sql::from_static(
    "DO $tsmn_restore$ DECLARE \
       kept pg_catalog.text; \
       name pg_catalog.text; \
     BEGIN \
       PERFORM pg_catalog.set_config('search_path', 'pg_catalog', true); \
       kept := coalesce(pg_catalog.current_setting('tsmn.secret_error', true), ''); \
       PERFORM pg_catalog.set_config('tsmn.secret_error', '', false); \
       FOREACH name IN ARRAY ARRAY['log_parameter_max_length_on_error', 'debug_print_parse', \
           'debug_print_rewritten', 'debug_print_plan', 'client_min_messages'] LOOP \
         EXECUTE 'RESET ' || name; \
       END LOOP; \
       IF pg_catalog.current_setting('is_superuser') = 'on' THEN \
         FOREACH name IN ARRAY ARRAY['log_statement', 'log_min_duration_statement', \
             'log_min_duration_sample', 'log_statement_sample_rate', \
             'log_transaction_sample_rate', 'log_min_error_statement', \
             'log_parameter_max_length', 'track_activities', 'log_min_messages', \
             'pg_stat_statements.track', \
             'pg_stat_statements.track_utility', 'pgaudit.log', \
             'auto_explain.log_min_duration'] LOOP \
           IF pg_catalog.current_setting(name, true) IS NOT NULL THEN \
             EXECUTE 'RESET ' || name; \
           END IF; \
         END LOOP; \
       END IF; \
       IF kept <> '' THEN \
         RAISE EXCEPTION USING ERRCODE = pg_catalog.split_part(kept, ':', 1), \
           MESSAGE = pg_catalog.substr(kept, 7); \
       END IF; \
     END $tsmn_restore$",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_double_percent_signs_and_hold_one_hole() {
        let t = SecretTemplate::new()
            .push("ALTER ROLE \"100%\" PASSWORD ")
            .secret();
        assert_eq!(t.text(), "ALTER ROLE \"100%%\" PASSWORD %L");
    }

    #[test]
    fn literal_calls_are_secret_and_quoted() {
        let a = SecretTemplate::new()
            .push("ALTER ROLE x PASSWORD ")
            .secret();
        let c = SecretTemplate::new()
            .push("CREATE ROLE x PASSWORD ")
            .secret();
        let sql = send_literal_by_role("o'x", &a, &c, "it's");
        assert_eq!(
            sql.text(),
            "SELECT pg_temp.tsmn_secret(CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles r \
             WHERE r.rolname OPERATOR(pg_catalog.=) 'o''x'::pg_catalog.name) \
             THEN 'ALTER ROLE x PASSWORD %L'::pg_catalog.text \
             ELSE 'CREATE ROLE x PASSWORD %L'::pg_catalog.text END, 'it''s'::pg_catalog.text, true)"
        );
        assert!(!format!("{sql:?}").contains("it's"));
    }

    #[test]
    fn restore_resets_every_setting_the_guard_changes() {
        for (name, _) in SUPERUSER_QUIET.iter().chain(ANY_ROLE_QUIET) {
            assert!(RESTORE.text().contains(&format!("'{name}'")), "{name}");
        }
    }

    #[test]
    fn the_guard_reads_settings_with_units_as_text() {
        // `current_setting` shows `250ms` or `64B` for a set value: no `::int` cast of it.
        let g = guard(Carriage::Bound, false);
        assert!(!g.text().contains(")::int"), "{}", g.text());
        assert!(g.text().contains("setting auto_explain.log_min_duration'"));
    }

    #[test]
    fn the_guard_names_what_it_refuses() {
        let g = guard(Carriage::Bound, false);
        assert!(g.text().contains(REFUSED_SQLSTATE));
        assert!(g.text().contains("setting log_statement'"));
        assert!(g.text().contains("params_logged := false"));
        assert!(g.text().contains(LOCK_SEARCH_PATH));
        assert!(guard(Carriage::Literal, true)
            .text()
            .contains("params_logged := true"));
    }
}
