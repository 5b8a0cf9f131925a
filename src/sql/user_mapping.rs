//! `CREATE / ALTER / DROP USER MAPPING`. These utility statements take no parameters, so a
//! statement that sets a password is rendered as a [`SecretTemplate`]: the password's place
//! is a hole the server fills (see `crate::secret_send`), and the crate never writes the
//! password into statement text.

use super::quiet::SecretTemplate;
use super::{quote, Sql};
use crate::ident::Ident;

/// Whose mapping: a role, the current user, or PUBLIC.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RoleSpec {
    /// A named role.
    Named(Ident),
    /// `CURRENT_USER`.
    CurrentUser,
    /// `PUBLIC`: the mapping used by every role without one of its own.
    Public,
}

impl RoleSpec {
    pub(crate) fn render(&self) -> String {
        match self {
            RoleSpec::Named(name) => quote::ident(name),
            RoleSpec::CurrentUser => "CURRENT_USER".to_owned(),
            RoleSpec::Public => "PUBLIC".to_owned(),
        }
    }
}

/// How an option is changed by `ALTER USER MAPPING`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OptionChange {
    Add,
    Set,
}

/// `CREATE USER MAPPING [IF NOT EXISTS] FOR <role> SERVER <server> OPTIONS (user '..',
/// password <hole>)`; the hole only `with_password`.
pub(crate) fn create(
    role: &RoleSpec,
    server: &Ident,
    remote_user: Option<&Ident>,
    with_password: bool,
    if_not_exists: bool,
) -> SecretTemplate {
    let mut t = SecretTemplate::new().push(&format!(
        "CREATE USER MAPPING {}FOR {} SERVER {}",
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        role.render(),
        quote::ident(server),
    ));
    if remote_user.is_none() && !with_password {
        return t;
    }
    t = t.push(" OPTIONS (");
    if let Some(user) = remote_user {
        t = t.push(&format!("\"user\" {}", quote::literal(user.as_str())));
        if with_password {
            t = t.push(", ");
        }
    }
    if with_password {
        t = t.push("\"password\" ").secret();
    }
    t.push(")")
}

/// `ALTER USER MAPPING FOR <role> SERVER <server> OPTIONS (ADD|SET user '..', ADD|SET
/// password <hole>)`; `None` when there is nothing to change.
pub(crate) fn alter(
    role: &RoleSpec,
    server: &Ident,
    remote_user: Option<(OptionChange, &Ident)>,
    password: Option<OptionChange>,
) -> Option<SecretTemplate> {
    let verb = |c: OptionChange| match c {
        OptionChange::Add => "ADD",
        OptionChange::Set => "SET",
    };
    if remote_user.is_none() && password.is_none() {
        return None;
    }
    let mut t = SecretTemplate::new().push(&format!(
        "ALTER USER MAPPING FOR {} SERVER {} OPTIONS (",
        role.render(),
        quote::ident(server),
    ));
    if let Some((change, user)) = remote_user {
        t = t.push(&format!(
            "{} \"user\" {}",
            verb(change),
            quote::literal(user.as_str())
        ));
        if password.is_some() {
            t = t.push(", ");
        }
    }
    if let Some(change) = password {
        t = t.push(&format!("{} \"password\" ", verb(change))).secret();
    }
    Some(t.push(")"))
}

/// `DROP USER MAPPING FOR <role> SERVER <server>; CREATE USER MAPPING ...`: run as one
/// statement string, so in one transaction, leaving exactly the options given. For a mapping
/// whose options this role cannot read, so cannot `ALTER` option by option.
pub(crate) fn replace(
    role: &RoleSpec,
    server: &Ident,
    remote_user: Option<&Ident>,
    with_password: bool,
) -> SecretTemplate {
    let create = create(role, server, remote_user, with_password, false);
    let drop = SecretTemplate::new().push(drop(role, server, false).text());
    drop.push("; ").append(&create)
}

/// `DROP USER MAPPING [IF EXISTS] FOR <role> SERVER <server>`.
pub(crate) fn drop(role: &RoleSpec, server: &Ident, if_exists: bool) -> Sql {
    Sql::rendered(format!(
        "DROP USER MAPPING {}FOR {} SERVER {}",
        if if_exists { "IF EXISTS " } else { "" },
        role.render(),
        quote::ident(server)
    ))
}

/// The option names (never the values) of mapping `m` on foreign server `s`, as column
/// `option_names`: NULL when the current role may not read them. `pg_user_mappings` shows
/// another role's options only to superusers (the conditions are the view's own), and shows
/// NULL for a mapping without options too, so "no options" and "hidden" are told apart here.
macro_rules! option_names_of_m {
    () => {
        "CASE WHEN m.umoptions IS NOT NULL \
                 THEN ARRAY(SELECT pg_catalog.split_part(o, '='::pg_catalog.text, 1) \
                              FROM pg_catalog.unnest(m.umoptions) o)::pg_catalog.text[] \
                 WHEN (m.umuser OPERATOR(pg_catalog.<>) 0 \
                       AND m.usename OPERATOR(pg_catalog.=) current_user \
                       AND (pg_catalog.pg_has_role(s.srvowner, 'USAGE'::pg_catalog.text) \
                            OR pg_catalog.has_server_privilege(s.oid, 'USAGE'::pg_catalog.text))) \
                   OR (m.umuser OPERATOR(pg_catalog.=) 0 \
                       AND pg_catalog.pg_has_role(s.srvowner, 'USAGE'::pg_catalog.text)) \
                   OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r \
                        WHERE r.rolname OPERATOR(pg_catalog.=) current_user) \
                 THEN '{}'::pg_catalog.text[] END AS option_names"
    };
}

/// The option names (never the values) of the mapping of `$2` (a role name, or `public`) on
/// server `$1`; no row when there is no such mapping, and NULL names when the current role
/// may not read them (see `option_names_of_m`).
pub(crate) const MAPPING_OPTION_NAMES: Sql = Sql::from_static(concat!(
    "SELECT ",
    option_names_of_m!(),
    " FROM pg_catalog.pg_user_mappings m \
       JOIN pg_catalog.pg_foreign_server s ON s.oid OPERATOR(pg_catalog.=) m.srvid \
      WHERE m.srvname OPERATOR(pg_catalog.=) $1::pg_catalog.name \
        AND m.usename OPERATOR(pg_catalog.=) $2::pg_catalog.name",
));

/// The options (`key=value`, values included) of the current user's own mapping on each
/// server named in `$1` (`text[]`), all in one statement: a row per option, with the
/// server's name (`server`) and the current user (`me`); a server without such a mapping,
/// or whose mapping has no options, gets one row whose `option` is NULL. Only for
/// comparing with credentials the caller already holds.
pub(crate) const CURRENT_USER_MAPPING_OPTIONS: Sql = Sql::from_static(
    "SELECT s::pg_catalog.text AS server, o AS option, current_user::pg_catalog.text AS me \
       FROM pg_catalog.unnest($1::pg_catalog.text[]) AS s \
       LEFT JOIN pg_catalog.pg_user_mappings m \
              ON m.srvname OPERATOR(pg_catalog.=) s::pg_catalog.name \
             AND m.usename OPERATOR(pg_catalog.=) current_user \
       LEFT JOIN LATERAL pg_catalog.unnest(coalesce(m.umoptions, '{}')) AS o ON true",
);

/// The mappings of role `$2` on each server named in `$1` (`text[]`), in one statement: a
/// row per server (`server`), `mapped` whether the mapping exists, `option_names` as in
/// [`MAPPING_OPTION_NAMES`] (NULL when hidden from this role), and `remote_user` as in
/// the mapping's `user` option (NULL when it has none or it is hidden). Never a password.
pub(crate) const ROLE_MAPPINGS: Sql = Sql::from_static(concat!(
    "SELECT n::pg_catalog.text AS server, m.umid IS NOT NULL AS mapped, ",
    option_names_of_m!(),
    ", (SELECT pg_catalog.substr(o, 6::pg_catalog.int4) \
               FROM pg_catalog.unnest(m.umoptions) o \
              WHERE pg_catalog.split_part(o, '='::pg_catalog.text, 1) \
                    OPERATOR(pg_catalog.=) 'user'::pg_catalog.text) AS remote_user \
       FROM pg_catalog.unnest($1::pg_catalog.text[]) AS n \
       LEFT JOIN (pg_catalog.pg_user_mappings m \
                  JOIN pg_catalog.pg_foreign_server s ON s.oid OPERATOR(pg_catalog.=) m.srvid) \
              ON m.srvname OPERATOR(pg_catalog.=) n::pg_catalog.name \
             AND m.usename OPERATOR(pg_catalog.=) $2::pg_catalog.name",
));

/// The current user's name.
pub(crate) const CURRENT_USER: Sql =
    Sql::from_static("SELECT current_user::pg_catalog.text AS name");

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Ident {
        Ident::new(s).unwrap()
    }

    #[test]
    fn create_quotes_everything_and_leaves_a_hole_for_the_password() {
        let t = create(
            &RoleSpec::Named(id("mn \"user\" 100%")),
            &id("dn'1"),
            Some(&id("remote")),
            true,
            true,
        );
        assert_eq!(
            t.text(),
            r#"CREATE USER MAPPING IF NOT EXISTS FOR "mn ""user"" 100%%" SERVER "dn'1" OPTIONS ("user" 'remote', "password" %L)"#
        );
        let t = create(&RoleSpec::CurrentUser, &id("dn1"), None, false, false);
        assert_eq!(
            t.text(),
            r#"CREATE USER MAPPING FOR CURRENT_USER SERVER "dn1""#
        );
    }

    #[test]
    fn alter_needs_something_to_change() {
        assert!(alter(&RoleSpec::CurrentUser, &id("dn1"), None, None).is_none());
        let t = alter(&RoleSpec::Public, &id("dn1"), None, Some(OptionChange::Add)).unwrap();
        assert_eq!(
            t.text(),
            r#"ALTER USER MAPPING FOR PUBLIC SERVER "dn1" OPTIONS (ADD "password" %L)"#
        );
        let t = replace(&RoleSpec::Public, &id("dn1"), Some(&id("u")), true);
        assert_eq!(
            t.text(),
            r#"DROP USER MAPPING FOR PUBLIC SERVER "dn1"; CREATE USER MAPPING FOR PUBLIC SERVER "dn1" OPTIONS ("user" 'u', "password" %L)"#
        );
    }

    #[test]
    fn drop_renders_if_exists() {
        assert_eq!(
            drop(&RoleSpec::CurrentUser, &id("dn1"), true).text(),
            r#"DROP USER MAPPING IF EXISTS FOR CURRENT_USER SERVER "dn1""#
        );
    }
}
