<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en">
<context>
    <name>fmb::BrokerTableModel</name>
    <message>
        <source>Broker</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Host</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Last heartbeat</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Sessions</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>State</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Admin socket</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>up</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>stale</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>stopped</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>not answering</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No heartbeat for more than %1: the broker was killed, hangs or cannot reach the database</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 ago</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>connected</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>not a target</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>fmb::ClusterWindow</name>
    <message>
        <source>Forgejo MCP Broker Console: cluster</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Sessions</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Brokers</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Evict</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>End the selected sessions on the brokers that serve them</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Refresh</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>%1 of %2 brokers answering; %n session(s)</source>
        <translation>
            <numerusform>%1 of %2 brokers answering; %n session</numerusform>
            <numerusform>%1 of %2 brokers answering; %n sessions</numerusform>
        </translation>
    </message>
    <message>
        <source>%1 of %2 on %3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Evict sessions</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>End %n session(s) and stop their MCP servers?</source>
        <translation>
            <numerusform>End %n session and stop its MCP server?</numerusform>
            <numerusform>End %n sessions and stop their MCP servers?</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>fmb::ConnectDialog</name>
    <message>
        <source>Connect to a Broker</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Local admin socket</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Path of the broker&apos;s admin socket on this computer; empty for the default</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Through &amp;SSH</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>[user@]host[:/path/to/admin.sock]</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Reaches the admin socket on another host with &quot;ssh -L&quot; (key or agent authentication; extra options from FMB_SSH_OPTIONS)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Recent brokers:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Connect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Enter a host to reach through SSH.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&quot;%1&quot; is not an SSH target: use [user@]host or host:/path/to/admin.sock; give a port in FMB_SSH_OPTIONS (-p PORT).</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>fmb::ConsoleWindow</name>
    <message>
        <source>&amp;Evict</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Forgejo MCP Broker Console</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Connect to…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Connect to a broker on this computer or through SSH (%1)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Reconnect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Connect again now and reload the sessions (F5)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>End the selected sessions and stop their MCP servers (Delete)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Evict All Sessions of This &amp;User</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Copy Session IDs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Filter</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;About</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>About the Console</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&lt;h3&gt;Forgejo MCP Broker Console %1&lt;/h3&gt;&lt;p&gt;Lists the MCP sessions of a forgejo-mcp-brokerd, shows when their upstream tokens expire, and evicts sessions, over the broker&apos;s admin socket (locally or through SSH).&lt;/p&gt;</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Broker</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Session</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Main</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Filter by id, user, client, state… (Ctrl+F)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Filter sessions</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Filter:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Sessions</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 — Forgejo MCP Broker Console</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Session %1 of %2 ended: %3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Session %1 runs a new MCP server (pid %2) after a token refresh</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not connected. Use Broker › Connect to… (Ctrl+O).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Connected to %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Connecting to %1 through SSH…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Connecting to %1…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Disconnected: %1 — retrying in %2 (F5 to retry now)</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>%n session(s)</source>
        <translation>
            <numerusform>%n session</numerusform>
            <numerusform>%n sessions</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%1 of %n session(s) shown</source>
        <translation>
            <numerusform>%1 of %n session shown</numerusform>
            <numerusform>%1 of %n sessions shown</numerusform>
        </translation>
    </message>
    <message>
        <source>local mode (no OAuth)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>OAuth</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1  ·  broker %2 at %3  ·  %4  ·  up %5</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>• %1 — %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>• %1 — %2 (%3)</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>… and %n more</source>
        <translation>
            <numerusform>… and %n more</numerusform>
            <numerusform>… and %n more</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Evict %n session(s)?</source>
        <translation>
            <numerusform>Evict %n session?</numerusform>
            <numerusform>Evict %n sessions?</numerusform>
        </translation>
    </message>
    <message>
        <source>Their MCP servers are stopped; the clients have to start new sessions.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Evict Sessions</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>Evict all %n session(s) of %1?</source>
        <translation>
            <numerusform>Evict the one session of %1?</numerusform>
            <numerusform>Evict all %n sessions of %1?</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Evicting %n session(s)…</source>
        <translation>
            <numerusform>Evicting %n session…</numerusform>
            <numerusform>Evicting %n sessions…</numerusform>
        </translation>
    </message>
    <message>
        <source>Evicting failed: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>Evicted %n session(s).</source>
        <translation>
            <numerusform>Evicted %n session.</numerusform>
            <numerusform>Evicted %n sessions.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n had already ended.</source>
        <translation>
            <numerusform>%n had already ended.</numerusform>
            <numerusform>%n had already ended.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Copied %n session id(s).</source>
        <translation>
            <numerusform>Copied %n session id.</numerusform>
            <numerusform>Copied %n session ids.</numerusform>
        </translation>
    </message>
    <message>
        <source>Evict All Sessions of %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Sessions open</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Requests per second</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Token refreshes per minute</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Errors per minute</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>HTTP responses with a 5xx status and failed token refreshes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Revoke Access</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Revoke</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Revoke Access…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>End the user&apos;s sessions, revoke their sign-ins and delete their stored Forgejo tokens (OAuth mode)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Revoke all access of %1?</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>This ends %n open session(s) of %1 and stops their MCP servers, revokes every grant and broker token of %1 and deletes the Forgejo tokens the broker keeps for %1. %1 has to sign in again.</source>
        <translation>
            <numerusform>This ends the open session of %1 and stops its MCP server, revokes every grant and broker token of %1 and deletes the Forgejo tokens the broker keeps for %1. %1 has to sign in again.</numerusform>
            <numerusform>This ends %n open sessions of %1 and stops their MCP servers, revokes every grant and broker token of %1 and deletes the Forgejo tokens the broker keeps for %1. %1 has to sign in again.</numerusform>
        </translation>
    </message>
    <message>
        <source>Revoking the access of %1…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Revoking failed: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>Revoked %1: %n session(s) ended, %2 grant(s) and %3 token(s) revoked.</source>
        <translation>
            <numerusform>Revoked %1: %n session ended, %2 grant(s) and %3 token(s) revoked.</numerusform>
            <numerusform>Revoked %1: %n sessions ended, %2 grant(s) and %3 token(s) revoked.</numerusform>
        </translation>
    </message>
    <message>
        <source>Revoke Access of %1…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Users</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>fmb::FleetSessionModel</name>
    <message>
        <source>Broker</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Session</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>User</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Client</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Created</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>State</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>user child</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>fmb::LiveChart</name>
    <message numerus="yes">
        <source>%1: %2 (the last %n minute(s))</source>
        <translation>
            <numerusform>%1: %2 (the last minute)</numerusform>
            <numerusform>%1: %2 (the last %n minutes)</numerusform>
        </translation>
    </message>
    <message>
        <source>max %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>%n min</source>
        <translation>
            <numerusform>%n min</numerusform>
            <numerusform>%n min</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>fmb::SessionTableModel</name>
    <message>
        <source>Session</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>User</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Client</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Created</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Last active</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Idle</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Token expires</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Child PID</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>State</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The MCP session id (Mcp-Session-Id), shortened</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Time since the client last sent anything; &quot;active&quot; while a stream is open or a request waits</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>When the upstream Forgejo token of the session expires; the broker refreshes it %n second(s) before</source>
        <translation>
            <numerusform>When the upstream Forgejo token of the session expires; the broker refreshes it %n second before</numerusform>
            <numerusform>When the upstream Forgejo token of the session expires; the broker refreshes it %n seconds before</numerusform>
        </translation>
    </message>
    <message>
        <source>Process id of the session&apos;s MCP server</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>no token</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>expired</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No upstream token: the broker runs in local mode (no OAuth)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The upstream token expired at %1 (%2 ago)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The upstream token expires at %1, within the refresh lead of %2: the broker should refresh it now</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The upstream token expires at %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1m %2s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1h %2m</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1d %2h</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>(not yet known)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 ago</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>active</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>starting</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>ready</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>respawning</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>stopping</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>user child (%1 in flight)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>fmb::UserTableModel</name>
    <message>
        <source>User</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Sessions</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>User children</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>In flight</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Token expires</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Clients</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>main</name>
    <message>
        <source>Lists and evicts the MCP sessions of a forgejo-mcp-brokerd through its admin socket.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Reach a broker on another host through OpenSSH (ssh -L to its admin socket); extra ssh options from FMB_SSH_OPTIONS.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Save the window to FILE once the sessions are listed, then quit.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Window size, e.g. 1120x420.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>With --screenshot: wait this many seconds after the sessions are listed, so the charts have something to draw (default 1.5).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Open on this tab: sessions or users.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The broker&apos;s admin socket (default: %1). Give it (or --ssh) more than once to watch several brokers of a cluster.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
