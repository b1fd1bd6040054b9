//! The command line, as clap types.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Gatehouse: API authentication service and gateway.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options of the admin client commands.
#[derive(Debug, Args)]
pub struct Global {
    /// Base URL of the Gatehouse API.
    #[arg(
        long,
        env = "GATEHOUSE_URL",
        default_value = "http://127.0.0.1:4000",
        global = true
    )]
    pub url: String,
    /// Admin API key (better passed in the environment than on the command line).
    #[arg(
        long,
        env = "GATEHOUSE_ADMIN_KEY",
        hide_env_values = true,
        global = true
    )]
    pub admin_key: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Inspect configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Read and check the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage OAuth clients.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Manage the users who log in.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// List and rotate the keys that sign access tokens.
    SigningKeys {
        #[command(subcommand)]
        command: SigningKeysCommand,
    },
    /// The built-in certificate authority and the client certificates it issues.
    Ca {
        #[command(subcommand)]
        command: CaCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client; prints its secret once.
    Create(ClientSettings),
    /// List clients.
    List(PageArgs),
    /// Show one client.
    Show { id: String },
    /// Change a client's settings.
    Update {
        id: String,
        #[command(flatten)]
        changes: ClientChanges,
    },
    /// Replace a client's secret (the old one stops working at once); prints it once.
    RotateSecret { id: String },
    /// Delete a client.
    Delete { id: String },
}

#[derive(Debug, Args)]
pub struct ClientSettings {
    /// Human name.
    #[arg(long)]
    pub name: String,
    /// A scope it may be granted (repeatable).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// An audience of its tokens (repeatable; default: the issuer).
    #[arg(long = "audience")]
    pub audiences: Vec<String>,
    /// An audience it serves as a resource server (repeatable): it may introspect
    /// tokens whose aud names one of them.
    #[arg(long = "resource-server-for", value_name = "AUD")]
    pub resource_server_audiences: Vec<String>,
    /// A grant it may use (repeatable; default client_credentials): client_credentials,
    /// authorization_code or refresh_token.
    #[arg(long = "grant-type")]
    pub grant_types: Vec<String>,
    /// client_secret_basic (default), client_secret_post, private_key_jwt,
    /// tls_client_auth (a client certificate, with --tls-subject or --tls-sha256), or
    /// none for a public (native) app of the authorization code flow.
    #[arg(long)]
    pub auth_method: Option<String>,
    /// tls_client_auth: the subject (SPIFFE ID, DNS name or CN) its certificate names.
    #[arg(long, conflicts_with = "tls_sha256")]
    pub tls_subject: Option<String>,
    /// tls_client_auth: the SHA-256 (hex) of the one certificate it presents.
    #[arg(long)]
    pub tls_sha256: Option<String>,
    /// A redirect URI for the authorization code flow (repeatable).
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// Access token lifetime in seconds (capped by the server).
    #[arg(long)]
    pub ttl: Option<u32>,
    /// A JSON file with the client's public keys (JWK Set), for private_key_jwt.
    #[arg(long)]
    pub jwks: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ClientChanges {
    /// New name.
    #[arg(long)]
    pub name: Option<String>,
    /// Replace the scopes (repeatable).
    #[arg(long = "scope")]
    pub scopes: Option<Vec<String>>,
    /// Replace the audiences (repeatable).
    #[arg(long = "audience")]
    pub audiences: Option<Vec<String>>,
    /// Replace the audiences it serves as a resource server (repeatable).
    #[arg(
        long = "resource-server-for",
        value_name = "AUD",
        conflicts_with = "clear_resource_server_for"
    )]
    pub resource_server_audiences: Option<Vec<String>>,
    /// Serve no audience as a resource server any more.
    #[arg(long)]
    pub clear_resource_server_for: bool,
    /// Replace the grants (repeatable).
    #[arg(long = "grant-type")]
    pub grant_types: Option<Vec<String>>,
    /// New authentication method.
    #[arg(long)]
    pub auth_method: Option<String>,
    /// New access token lifetime in seconds.
    #[arg(long)]
    pub ttl: Option<u32>,
    /// Replace the public keys (a JWK Set JSON file), for private_key_jwt.
    #[arg(long)]
    pub jwks: Option<PathBuf>,
    /// tls_client_auth: the subject (SPIFFE ID, DNS name or CN) its certificate names.
    #[arg(long, conflicts_with = "tls_sha256")]
    pub tls_subject: Option<String>,
    /// tls_client_auth: the SHA-256 (hex) of the one certificate it presents.
    #[arg(long)]
    pub tls_sha256: Option<String>,
    /// Replace the redirect URIs (repeatable).
    #[arg(long = "redirect-uri", conflicts_with = "clear_redirect_uris")]
    pub redirect_uris: Option<Vec<String>>,
    /// Remove every redirect URI (for a client leaving the authorization code flow).
    #[arg(long)]
    pub clear_redirect_uris: bool,
    /// Enable the client.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Disable the client.
    #[arg(long)]
    pub disable: bool,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user.
    Create(UserSettings),
    /// List users.
    List(PageArgs),
    /// Show one user.
    Show { id: String },
    /// Change a user's settings.
    Update {
        id: String,
        #[command(flatten)]
        changes: UserChanges,
    },
    /// Stop a user from logging in (the account is kept).
    Disable { id: String },
    /// Delete a user.
    Delete { id: String },
    /// Set a user's password, read from the first line of standard input (never from
    /// the command line, where other users of the machine could read it). Ends the
    /// user's sessions and refresh tokens.
    SetPassword { id: String },
    /// The apps a user has approved, and for which scopes.
    Consents { id: String },
    /// Withdraw a user's approval of an app; its refresh tokens for the user end too.
    RevokeConsent { id: String, client_id: String },
}

#[derive(Debug, Args)]
pub struct UserSettings {
    /// Login name.
    #[arg(long)]
    pub username: String,
    /// Name shown on consent pages.
    #[arg(long)]
    pub display_name: Option<String>,
    /// Contact address.
    #[arg(long)]
    pub email: Option<String>,
    /// A scope the user may grant to apps (repeatable).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Read the initial password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct UserChanges {
    /// New login name.
    #[arg(long)]
    pub username: Option<String>,
    /// New display name ("" clears it).
    #[arg(long)]
    pub display_name: Option<String>,
    /// New contact address ("" clears it).
    #[arg(long)]
    pub email: Option<String>,
    /// Replace the scopes (repeatable).
    #[arg(long = "scope")]
    pub scopes: Option<Vec<String>>,
    /// Let the user log in again.
    #[arg(long)]
    pub enable: bool,
}

#[derive(Debug, Subcommand)]
pub enum SigningKeysCommand {
    /// Every signing key and its state (next, active, retired, expired).
    List,
    /// Publish a new key; it signs once the publish lead has passed.
    Rotate {
        /// Sign with the new key at once (a key thought compromised). Verifiers that
        /// cached the JWK Set refuse new tokens until they fetch it again.
        #[arg(long)]
        now: bool,
    },
    /// Withdraw a key now (a leaked key): its tokens stop verifying at once. The
    /// active key must be rotated out first (`rotate --now`).
    Withdraw {
        /// Key id as `list` shows it. Key ids are base64url and may begin with `-`,
        /// so a leading hyphen is taken as part of the id, not as a flag.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create the certificate authority (once); prints its certificate, PEM.
    Init,
    /// Print the CA certificate, PEM: what servers and clients trust.
    Show,
    /// Issue a client certificate; writes cert.pem, key.pem and ca.pem into --out.
    Issue(IssueArgs),
    /// Every issued certificate: scopes, expiry, and whether it is revoked.
    List,
    /// Revoke a certificate, now and for good.
    Revoke {
        /// Serial number, hex, as `list` shows it.
        serial: String,
    },
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Who it names: a SPIFFE ID (spiffe://trust-domain/path), a DNS name, or another
    /// name (the subject CN).
    #[arg(long)]
    pub subject: String,
    /// Days of validity (default 30, at most 397).
    #[arg(long)]
    pub days: Option<u32>,
    /// A scope its holder may use (repeatable; you must hold it).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Directory for cert.pem, key.pem (mode 0600) and ca.pem; created (mode 0700) if
    /// missing. Existing files are never overwritten.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "GATEHOUSE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides `server.listen`).
    #[arg(long)]
    pub listen: Option<String>,
    /// Data directory (overrides `storage.data_dir`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print an annotated example configuration.
    Example,
    /// Validate a configuration file.
    Check { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; prints it once.
    Create(KeySettings),
    /// List keys.
    List(PageArgs),
    /// Show one key.
    Show { id: String },
    /// Change a key's settings.
    Update {
        id: String,
        #[command(flatten)]
        changes: KeyChanges,
    },
    /// Revoke a key, now and for good.
    Revoke { id: String },
    /// Replace a key by a new one with the same settings; prints the new key once.
    Rotate {
        id: String,
        /// Seconds the old key keeps working.
        #[arg(long, default_value_t = 0)]
        grace: u64,
    },
    /// Delete a key.
    Delete { id: String },
    /// Verify a key (needs `gatehouse:verify`).
    Verify {
        key: String,
        /// A scope the key must grant (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct KeySettings {
    /// Human name.
    #[arg(long)]
    pub name: String,
    /// Who the key acts as (default: the name).
    #[arg(long)]
    pub subject: Option<String>,
    /// Key prefix.
    #[arg(long)]
    pub prefix: Option<String>,
    /// A scope (repeatable).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Metadata, a JSON object.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Expiry, RFC 3339 (e.g. 2027-01-01T00:00:00Z).
    #[arg(long)]
    pub expires_at: Option<String>,
    /// Rate limit as LIMIT/DURATION, e.g. 100/60s (units ms, s, m, h).
    #[arg(long)]
    pub ratelimit: Option<String>,
    /// Number of verifications allowed.
    #[arg(long)]
    pub remaining: Option<u64>,
    /// Create the key disabled.
    #[arg(long)]
    pub disabled: bool,
}

#[derive(Debug, Args)]
pub struct KeyChanges {
    /// New name.
    #[arg(long)]
    pub name: Option<String>,
    /// Replace the scopes (repeatable).
    #[arg(long = "scope")]
    pub scopes: Option<Vec<String>>,
    /// Replace the metadata (a JSON object).
    #[arg(long)]
    pub metadata: Option<String>,
    /// New expiry, RFC 3339.
    #[arg(long, conflicts_with = "no_expiry")]
    pub expires_at: Option<String>,
    /// Remove the expiry.
    #[arg(long)]
    pub no_expiry: bool,
    /// Enable the key.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Disable the key.
    #[arg(long)]
    pub disable: bool,
    /// New rate limit, LIMIT/DURATION.
    #[arg(long, conflicts_with = "no_ratelimit")]
    pub ratelimit: Option<String>,
    /// Remove the rate limit.
    #[arg(long)]
    pub no_ratelimit: bool,
    /// New number of verifications left.
    #[arg(long, conflicts_with = "unlimited")]
    pub remaining: Option<u64>,
    /// Remove the usage limit.
    #[arg(long)]
    pub unlimited: bool,
}

#[derive(Debug, Args)]
pub struct PageArgs {
    /// Page size.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Cursor from a previous page.
    #[arg(long)]
    pub cursor: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List events, newest first.
    List(AuditFilter),
    /// Export every matching event, oldest first, as JSON lines.
    Export(AuditFilter),
    /// Check the hash chain of the whole trail; names the first broken event.
    Verify,
}

#[derive(Debug, Args, Default)]
pub struct AuditFilter {
    /// Only this principal's events.
    #[arg(long)]
    pub principal: Option<String>,
    /// Only events with this credential id.
    #[arg(long)]
    pub credential: Option<String>,
    /// Only this action, e.g. key.verify.
    #[arg(long)]
    pub action: Option<String>,
    /// allowed or denied.
    #[arg(long)]
    pub outcome: Option<String>,
    /// From this time (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
    /// Page size (list).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Cursor from a previous page (list).
    #[arg(long)]
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::{Cli, Command, SigningKeysCommand};
    use clap::Parser;

    #[test]
    fn a_key_id_beginning_with_a_hyphen_is_an_id_not_a_flag() {
        let cli =
            Cli::try_parse_from(["gatehouse", "signing-keys", "withdraw", "-_x9"]).expect("parses");
        match cli.command {
            Command::SigningKeys {
                command: SigningKeysCommand::Withdraw { kid },
            } => assert_eq!(kid, "-_x9"),
            other => panic!("parsed as {other:?}"),
        }
    }
}
