//! `CREATE / ALTER / DROP USER MAPPING`. These utility statements take no parameters, so the
//! password is rendered as a literal (through `postgres_protocol::escape`) and the statement
//! is marked secret: its `Debug` output is redacted, and it is run with logging turned off
//! where the role may do so.

use secrecy::{ExposeSecret, SecretString};

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

/// `CREATE USER MAPPING [IF NOT EXISTS] FOR <role> SERVER <server> OPTIONS (user '..', password '..')`.
pub(crate) fn create(
    role: &RoleSpec,
    server: &Ident,
    remote_user: Option<&Ident>,
    password: Option<&SecretString>,
    if_not_exists: bool,
) -> Sql {
    let mut options = Vec::new();
    if let Some(user) = remote_user {
        options.push(format!("\"user\" {}", quote::literal(user.as_str())));
    }
    if let Some(pw) = password {
        options.push(format!(
            "\"password\" {}",
            quote::literal(pw.expose_secret())
        ));
    }
    let options = if options.is_empty() {
        String::new()
    } else {
        format!(" OPTIONS ({})", options.join(", "))
    };
    Sql::rendered_secret(format!(
        "CREATE USER MAPPING {}FOR {} SERVER {}{}",
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        role.render(),
        quote::ident(server),
        options
    ))
}

/// `ALTER USER MAPPING FOR <role> SERVER <server> OPTIONS (ADD|SET user '..', ADD|SET password '..')`.
pub(crate) fn alter(
    role: &RoleSpec,
    server: &Ident,
    remote_user: Option<(OptionChange, &Ident)>,
    password: Option<(OptionChange, &SecretString)>,
) -> Option<Sql> {
    let verb = |c: OptionChange| match c {
        OptionChange::Add => "ADD",
        OptionChange::Set => "SET",
    };
    let mut options = Vec::new();
    if let Some((change, user)) = remote_user {
        options.push(format!(
            "{} \"user\" {}",
            verb(change),
            quote::literal(user.as_str())
        ));
    }
    if let Some((change, pw)) = password {
        options.push(format!(
            "{} \"password\" {}",
            verb(change),
            quote::literal(pw.expose_secret())
        ));
    }
    if options.is_empty() {
        return None;
    }
    Some(Sql::rendered_secret(format!(
        "ALTER USER MAPPING FOR {} SERVER {} OPTIONS ({})",
        role.render(),
        quote::ident(server),
        options.join(", ")
    )))
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

/// The option names (never the values) of the mapping of `$2` (a role name, or `public`) on
/// server `$1`; no row when there is no such mapping.
pub(crate) const MAPPING_OPTION_NAMES: Sql = Sql::from_static(
    "SELECT ARRAY(SELECT pg_catalog.split_part(o, '='::pg_catalog.text, 1) \
                    FROM pg_catalog.unnest(coalesce(m.umoptions, '{}')) o)::pg_catalog.text[] \
            AS option_names \
       FROM pg_catalog.pg_user_mappings m \
      WHERE m.srvname OPERATOR(pg_catalog.=) $1::pg_catalog.name \
        AND m.usename OPERATOR(pg_catalog.=) $2::pg_catalog.name",
);

/// The options (`key=value`, values included) of the current user's own mapping on server
/// `$1`. Only for comparing with credentials the caller already holds.
pub(crate) const CURRENT_USER_MAPPING_OPTIONS: Sql = Sql::from_static(
    "SELECT o AS option FROM pg_catalog.pg_user_mappings m, \
            pg_catalog.unnest(coalesce(m.umoptions, '{}')) o \
      WHERE m.srvname OPERATOR(pg_catalog.=) $1::pg_catalog.name \
        AND m.usename OPERATOR(pg_catalog.=) current_user",
);

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
    fn create_quotes_everything_and_is_secret() {
        let sql = create(
            &RoleSpec::Named(id("mn \"user\"")),
            &id("dn'1"),
            Some(&id("remote")),
            Some(&SecretString::from("p'w\\x")),
            true,
        );
        assert_eq!(
            sql.text(),
            r#"CREATE USER MAPPING IF NOT EXISTS FOR "mn ""user""" SERVER "dn'1" OPTIONS ("user" 'remote', "password"  E'p''w\\x')"#
        );
        assert!(!format!("{sql:?}").contains("p'w"));
    }

    #[test]
    fn alter_needs_something_to_change() {
        assert!(alter(&RoleSpec::CurrentUser, &id("dn1"), None, None).is_none());
        let sql = alter(
            &RoleSpec::Public,
            &id("dn1"),
            None,
            Some((OptionChange::Add, &SecretString::from("x"))),
        )
        .unwrap();
        assert_eq!(
            sql.text(),
            r#"ALTER USER MAPPING FOR PUBLIC SERVER "dn1" OPTIONS (ADD "password" 'x')"#
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
