<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="nb_NO">
<context>
    <name>fmb::BrokerTableModel</name>
    <message>
        <source>Broker</source>
        <translation>Megler</translation>
    </message>
    <message>
        <source>Host</source>
        <translation>Vert</translation>
    </message>
    <message>
        <source>Last heartbeat</source>
        <translation>Siste hjerteslag</translation>
    </message>
    <message>
        <source>Sessions</source>
        <translation>Økter</translation>
    </message>
    <message>
        <source>State</source>
        <translation>Tilstand</translation>
    </message>
    <message>
        <source>Admin socket</source>
        <translation>Administrasjonssokkel</translation>
    </message>
    <message>
        <source>up</source>
        <translation>oppe</translation>
    </message>
    <message>
        <source>stale</source>
        <translation>uten livstegn</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>stoppet</translation>
    </message>
    <message>
        <source>not answering</source>
        <translation>svarer ikke</translation>
    </message>
    <message>
        <source>No heartbeat for more than %1: the broker was killed, hangs or cannot reach the database</source>
        <translation>Ingen hjerteslag på mer enn %1: megleren ble drept, henger eller når ikke databasen</translation>
    </message>
    <message>
        <source>%1 ago</source>
        <translation>for %1 siden</translation>
    </message>
    <message>
        <source>connected</source>
        <translation>tilkoblet</translation>
    </message>
    <message>
        <source>not a target</source>
        <translation>ikke et mål</translation>
    </message>
</context>
<context>
    <name>fmb::ClusterWindow</name>
    <message>
        <source>Forgejo MCP Broker Console: cluster</source>
        <translation>Forgejo MCP-megler – konsoll: klynge</translation>
    </message>
    <message>
        <source>Sessions</source>
        <translation>Økter</translation>
    </message>
    <message>
        <source>Brokers</source>
        <translation>Meglere</translation>
    </message>
    <message>
        <source>&amp;Evict</source>
        <translation>&amp;Kast ut</translation>
    </message>
    <message>
        <source>End the selected sessions on the brokers that serve them</source>
        <translation>Avslutt de valgte øktene på meglerne som betjener dem</translation>
    </message>
    <message>
        <source>&amp;Refresh</source>
        <translation>&amp;Oppdater</translation>
    </message>
    <message numerus="yes">
        <source>%1 of %2 brokers answering; %n session(s)</source>
        <translation>
            <numerusform>%1 av %2 meglere svarer; %n økt</numerusform>
            <numerusform>%1 av %2 meglere svarer; %n økter</numerusform>
        </translation>
    </message>
    <message>
        <source>%1 of %2 on %3</source>
        <translation>%1 av %2 på %3</translation>
    </message>
    <message>
        <source>Evict sessions</source>
        <translation>Kast ut økter</translation>
    </message>
    <message numerus="yes">
        <source>End %n session(s) and stop their MCP servers?</source>
        <translation>
            <numerusform>Avslutte %n økt og stoppe MCP-tjeneren?</numerusform>
            <numerusform>Avslutte %n økter og stoppe MCP-tjenerne deres?</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>fmb::ConnectDialog</name>
    <message>
        <source>Connect to a Broker</source>
        <translation>Koble til en megler</translation>
    </message>
    <message>
        <source>&amp;Local admin socket</source>
        <translation>&amp;Lokal administrasjonssokkel</translation>
    </message>
    <message>
        <source>Path of the broker&apos;s admin socket on this computer; empty for the default</source>
        <translation>Stien til meglerens administrasjonssokkel på denne datamaskinen; tom for standardstien</translation>
    </message>
    <message>
        <source>Through &amp;SSH</source>
        <translation>Gjennom &amp;SSH</translation>
    </message>
    <message>
        <source>[user@]host[:/path/to/admin.sock]</source>
        <translation>[bruker@]vert[:/sti/til/admin.sock]</translation>
    </message>
    <message>
        <source>Reaches the admin socket on another host with &quot;ssh -L&quot; (key or agent authentication; extra options from FMB_SSH_OPTIONS)</source>
        <translation>Når administrasjonssokkelen på en annen vert med «ssh -L» (nøkkel- eller agentautentisering; ekstra valg fra FMB_SSH_OPTIONS)</translation>
    </message>
    <message>
        <source>&amp;Recent brokers:</source>
        <translation>&amp;Nylig brukte meglere:</translation>
    </message>
    <message>
        <source>&amp;Connect</source>
        <translation>&amp;Koble til</translation>
    </message>
    <message>
        <source>Enter a host to reach through SSH.</source>
        <translation>Skriv inn en vert å nå gjennom SSH.</translation>
    </message>
    <message>
        <source>&quot;%1&quot; is not an SSH target: use [user@]host or host:/path/to/admin.sock; give a port in FMB_SSH_OPTIONS (-p PORT).</source>
        <translation>«%1» er ikke et SSH-mål: bruk [bruker@]vert eller vert:/sti/til/admin.sock; oppgi en port i FMB_SSH_OPTIONS (-p PORT).</translation>
    </message>
</context>
<context>
    <name>fmb::ConsoleWindow</name>
    <message>
        <source>&amp;Evict</source>
        <translation>&amp;Kast ut</translation>
    </message>
    <message>
        <source>Forgejo MCP Broker Console</source>
        <translation>Forgejo MCP-megler – konsoll</translation>
    </message>
    <message>
        <source>&amp;Connect to…</source>
        <translation>&amp;Koble til …</translation>
    </message>
    <message>
        <source>Connect to a broker on this computer or through SSH (%1)</source>
        <translation>Koble til en megler på denne datamaskinen eller gjennom SSH (%1)</translation>
    </message>
    <message>
        <source>&amp;Reconnect</source>
        <translation>Koble til på &amp;nytt</translation>
    </message>
    <message>
        <source>Connect again now and reload the sessions (F5)</source>
        <translation>Koble til igjen nå og last inn øktene på nytt (F5)</translation>
    </message>
    <message>
        <source>End the selected sessions and stop their MCP servers (Delete)</source>
        <translation>Avslutt de valgte øktene og stopp MCP-tjenerne deres (Delete)</translation>
    </message>
    <message>
        <source>Evict All Sessions of This &amp;User</source>
        <translation>Kast ut alle øktene til denne &amp;brukeren</translation>
    </message>
    <message>
        <source>&amp;Copy Session IDs</source>
        <translation>K&amp;opier økt-ID-er</translation>
    </message>
    <message>
        <source>&amp;Filter</source>
        <translation>&amp;Filtrer</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Avslutt</translation>
    </message>
    <message>
        <source>&amp;About</source>
        <translation>&amp;Om</translation>
    </message>
    <message>
        <source>About the Console</source>
        <translation>Om konsollen</translation>
    </message>
    <message>
        <source>&lt;h3&gt;Forgejo MCP Broker Console %1&lt;/h3&gt;&lt;p&gt;Lists the MCP sessions of a forgejo-mcp-brokerd, shows when their upstream tokens expire, and evicts sessions, over the broker&apos;s admin socket (locally or through SSH).&lt;/p&gt;</source>
        <translation>&lt;h3&gt;Forgejo MCP-megler – konsoll %1&lt;/h3&gt;&lt;p&gt;Viser MCP-øktene til en forgejo-mcp-brokerd, viser når Forgejo-tokenene deres utløper, og kaster ut økter, via meglerens administrasjonssokkel (lokalt eller gjennom SSH).&lt;/p&gt;</translation>
    </message>
    <message>
        <source>&amp;Broker</source>
        <translation>&amp;Megler</translation>
    </message>
    <message>
        <source>&amp;Session</source>
        <translation>Ø&amp;kt</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>&amp;Hjelp</translation>
    </message>
    <message>
        <source>Main</source>
        <translation>Hovedverktøylinje</translation>
    </message>
    <message>
        <source>Filter by id, user, client, state… (Ctrl+F)</source>
        <translation>Filtrer på ID, bruker, klient, tilstand … (Ctrl+F)</translation>
    </message>
    <message>
        <source>Filter sessions</source>
        <translation>Filtrer økter</translation>
    </message>
    <message>
        <source>&amp;Filter:</source>
        <translation>&amp;Filter:</translation>
    </message>
    <message>
        <source>Sessions</source>
        <translation>Økter</translation>
    </message>
    <message>
        <source>%1 — Forgejo MCP Broker Console</source>
        <translation>%1 – Forgejo MCP-megler – konsoll</translation>
    </message>
    <message>
        <source>Session %1 of %2 ended: %3</source>
        <translation>Økt %1 for %2 er avsluttet: %3</translation>
    </message>
    <message>
        <source>Session %1 runs a new MCP server (pid %2) after a token refresh</source>
        <translation>Økt %1 kjører en ny MCP-tjener (PID %2) etter at tokenet ble fornyet</translation>
    </message>
    <message>
        <source>Not connected. Use Broker › Connect to… (Ctrl+O).</source>
        <translation>Ikke tilkoblet. Bruk Megler › Koble til … (Ctrl+O).</translation>
    </message>
    <message>
        <source>Connected to %1</source>
        <translation>Koblet til %1</translation>
    </message>
    <message>
        <source>Connecting to %1 through SSH…</source>
        <translation>Kobler til %1 gjennom SSH …</translation>
    </message>
    <message>
        <source>Connecting to %1…</source>
        <translation>Kobler til %1 …</translation>
    </message>
    <message>
        <source>Disconnected: %1 — retrying in %2 (F5 to retry now)</source>
        <translation>Frakoblet: %1 – prøver igjen om %2 (F5 for å prøve nå)</translation>
    </message>
    <message numerus="yes">
        <source>%n session(s)</source>
        <translation>
            <numerusform>%n økt</numerusform>
            <numerusform>%n økter</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%1 of %n session(s) shown</source>
        <translation>
            <numerusform>%1 av %n økt vises</numerusform>
            <numerusform>%1 av %n økter vises</numerusform>
        </translation>
    </message>
    <message>
        <source>local mode (no OAuth)</source>
        <translation>lokal modus (uten OAuth)</translation>
    </message>
    <message>
        <source>OAuth</source>
        <translation>OAuth</translation>
    </message>
    <message>
        <source>%1  ·  broker %2 at %3  ·  %4  ·  up %5</source>
        <translation>%1  ·  megler %2 på %3  ·  %4  ·  oppe i %5</translation>
    </message>
    <message>
        <source>• %1 — %2</source>
        <translation>• %1 – %2</translation>
    </message>
    <message>
        <source>• %1 — %2 (%3)</source>
        <translation>• %1 – %2 (%3)</translation>
    </message>
    <message numerus="yes">
        <source>… and %n more</source>
        <translation>
            <numerusform>… og %n til</numerusform>
            <numerusform>… og %n til</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Evict %n session(s)?</source>
        <translation>
            <numerusform>Kaste ut %n økt?</numerusform>
            <numerusform>Kaste ut %n økter?</numerusform>
        </translation>
    </message>
    <message>
        <source>Their MCP servers are stopped; the clients have to start new sessions.</source>
        <translation>MCP-tjenerne deres stoppes; klientene må starte nye økter.</translation>
    </message>
    <message>
        <source>Evict Sessions</source>
        <translation>Kast ut økter</translation>
    </message>
    <message numerus="yes">
        <source>Evict all %n session(s) of %1?</source>
        <translation>
            <numerusform>Kaste ut den ene økten til %1?</numerusform>
            <numerusform>Kaste ut alle de %n øktene til %1?</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Evicting %n session(s)…</source>
        <translation>
            <numerusform>Kaster ut %n økt …</numerusform>
            <numerusform>Kaster ut %n økter …</numerusform>
        </translation>
    </message>
    <message>
        <source>Evicting failed: %1</source>
        <translation>Utkastingen mislyktes: %1</translation>
    </message>
    <message numerus="yes">
        <source>Evicted %n session(s).</source>
        <translation>
            <numerusform>Kastet ut %n økt.</numerusform>
            <numerusform>Kastet ut %n økter.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n had already ended.</source>
        <translation>
            <numerusform>%n var allerede avsluttet.</numerusform>
            <numerusform>%n var allerede avsluttet.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Copied %n session id(s).</source>
        <translation>
            <numerusform>Kopierte %n økt-ID.</numerusform>
            <numerusform>Kopierte %n økt-ID-er.</numerusform>
        </translation>
    </message>
    <message>
        <source>Evict All Sessions of %1</source>
        <translation>Kast ut alle øktene til %1</translation>
    </message>
    <message>
        <source>Sessions open</source>
        <translation>Åpne økter</translation>
    </message>
    <message>
        <source>Requests per second</source>
        <translation>Forespørsler per sekund</translation>
    </message>
    <message>
        <source>Token refreshes per minute</source>
        <translation>Tokenfornyelser per minutt</translation>
    </message>
    <message>
        <source>Errors per minute</source>
        <translation>Feil per minutt</translation>
    </message>
    <message>
        <source>HTTP responses with a 5xx status and failed token refreshes</source>
        <translation>HTTP-svar med 5xx-status og mislykkede tokenfornyelser</translation>
    </message>
    <message>
        <source>Revoke Access</source>
        <translation>Trekk tilbake tilgang</translation>
    </message>
    <message>
        <source>&amp;Revoke</source>
        <translation>&amp;Trekk tilbake</translation>
    </message>
    <message>
        <source>&amp;Revoke Access…</source>
        <translation>&amp;Trekk tilbake tilgang …</translation>
    </message>
    <message>
        <source>End the user&apos;s sessions, revoke their sign-ins and delete their stored Forgejo tokens (OAuth mode)</source>
        <translation>Avslutt brukerens økter, trekk tilbake påloggingene og slett de lagrede Forgejo-tokenene (OAuth-modus)</translation>
    </message>
    <message>
        <source>Revoke all access of %1?</source>
        <translation>Trekke tilbake all tilgang for %1?</translation>
    </message>
    <message numerus="yes">
        <source>This ends %n open session(s) of %1 and stops their MCP servers, revokes every grant and broker token of %1 and deletes the Forgejo tokens the broker keeps for %1. %1 has to sign in again.</source>
        <translation>
            <numerusform>Dette avslutter %n åpen økt for %1 og stopper MCP-tjeneren, trekker tilbake alle tillatelser og meglertokener for %1 og sletter Forgejo-tokenene megleren har lagret for %1. %1 må logge inn på nytt.</numerusform>
            <numerusform>Dette avslutter %n åpne økter for %1 og stopper MCP-tjenerne deres, trekker tilbake alle tillatelser og meglertokener for %1 og sletter Forgejo-tokenene megleren har lagret for %1. %1 må logge inn på nytt.</numerusform>
        </translation>
    </message>
    <message>
        <source>Revoking the access of %1…</source>
        <translation>Trekker tilbake tilgangen for %1 …</translation>
    </message>
    <message>
        <source>Revoking failed: %1</source>
        <translation>Tilbaketrekkingen mislyktes: %1</translation>
    </message>
    <message numerus="yes">
        <source>Revoked %1: %n session(s) ended, %2 grant(s) and %3 token(s) revoked.</source>
        <translation>
            <numerusform>Trakk tilbake %1: %n økt avsluttet, %2 tillatelse(r) og %3 token trukket tilbake.</numerusform>
            <numerusform>Trakk tilbake %1: %n økter avsluttet, %2 tillatelse(r) og %3 token trukket tilbake.</numerusform>
        </translation>
    </message>
    <message>
        <source>Revoke Access of %1…</source>
        <translation>Trekk tilbake tilgangen for %1 …</translation>
    </message>
    <message>
        <source>Users</source>
        <translation>Brukere</translation>
    </message>
</context>
<context>
    <name>fmb::FleetSessionModel</name>
    <message>
        <source>Broker</source>
        <translation>Megler</translation>
    </message>
    <message>
        <source>Session</source>
        <translation>Økt</translation>
    </message>
    <message>
        <source>User</source>
        <translation>Bruker</translation>
    </message>
    <message>
        <source>Client</source>
        <translation>Klient</translation>
    </message>
    <message>
        <source>Created</source>
        <translation>Opprettet</translation>
    </message>
    <message>
        <source>State</source>
        <translation>Tilstand</translation>
    </message>
    <message>
        <source>user child</source>
        <translation>brukerbarn</translation>
    </message>
</context>
<context>
    <name>fmb::LiveChart</name>
    <message numerus="yes">
        <source>%1: %2 (the last %n minute(s))</source>
        <translation>
            <numerusform>%1: %2 (det siste minuttet)</numerusform>
            <numerusform>%1: %2 (de siste %n minuttene)</numerusform>
        </translation>
    </message>
    <message>
        <source>max %1</source>
        <translation>maks %1</translation>
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
        <translation>Økt</translation>
    </message>
    <message>
        <source>User</source>
        <translation>Bruker</translation>
    </message>
    <message>
        <source>Client</source>
        <translation>Klient</translation>
    </message>
    <message>
        <source>Created</source>
        <translation>Opprettet</translation>
    </message>
    <message>
        <source>Last active</source>
        <translation>Sist aktiv</translation>
    </message>
    <message>
        <source>Idle</source>
        <translation>Inaktiv</translation>
    </message>
    <message>
        <source>Token expires</source>
        <translation>Token utløper</translation>
    </message>
    <message>
        <source>Child PID</source>
        <translation>Barne-PID</translation>
    </message>
    <message>
        <source>State</source>
        <translation>Tilstand</translation>
    </message>
    <message>
        <source>The MCP session id (Mcp-Session-Id), shortened</source>
        <translation>MCP-øktens ID (Mcp-Session-Id), forkortet</translation>
    </message>
    <message>
        <source>Time since the client last sent anything; &quot;active&quot; while a stream is open or a request waits</source>
        <translation>Tid siden klienten sist sendte noe; «aktiv» mens en strøm er åpen eller en forespørsel venter</translation>
    </message>
    <message numerus="yes">
        <source>When the upstream Forgejo token of the session expires; the broker refreshes it %n second(s) before</source>
        <translation>
            <numerusform>Når øktens Forgejo-token utløper; megleren fornyer det %n sekund før</numerusform>
            <numerusform>Når øktens Forgejo-token utløper; megleren fornyer det %n sekunder før</numerusform>
        </translation>
    </message>
    <message>
        <source>Process id of the session&apos;s MCP server</source>
        <translation>Prosess-ID-en til øktens MCP-tjener</translation>
    </message>
    <message>
        <source>no token</source>
        <translation>ingen token</translation>
    </message>
    <message>
        <source>expired</source>
        <translation>utløpt</translation>
    </message>
    <message>
        <source>No upstream token: the broker runs in local mode (no OAuth)</source>
        <translation>Ingen Forgejo-token: megleren kjører i lokal modus (uten OAuth)</translation>
    </message>
    <message>
        <source>The upstream token expired at %1 (%2 ago)</source>
        <translation>Forgejo-tokenet utløp %1 (for %2 siden)</translation>
    </message>
    <message>
        <source>The upstream token expires at %1, within the refresh lead of %2: the broker should refresh it now</source>
        <translation>Forgejo-tokenet utløper %1, innenfor fornyingsmarginen på %2: megleren bør fornye det nå</translation>
    </message>
    <message>
        <source>The upstream token expires at %1</source>
        <translation>Forgejo-tokenet utløper %1</translation>
    </message>
    <message>
        <source>%1s</source>
        <translation>%1 s</translation>
    </message>
    <message>
        <source>%1m %2s</source>
        <translation>%1 min %2 s</translation>
    </message>
    <message>
        <source>%1h %2m</source>
        <translation>%1 t %2 min</translation>
    </message>
    <message>
        <source>%1d %2h</source>
        <translation>%1 d %2 t</translation>
    </message>
    <message>
        <source>(not yet known)</source>
        <translation>(ennå ukjent)</translation>
    </message>
    <message>
        <source>%1 ago</source>
        <translation>for %1 siden</translation>
    </message>
    <message>
        <source>active</source>
        <translation>aktiv</translation>
    </message>
    <message>
        <source>starting</source>
        <translation>starter</translation>
    </message>
    <message>
        <source>ready</source>
        <translation>klar</translation>
    </message>
    <message>
        <source>respawning</source>
        <translation>bytter tjener</translation>
    </message>
    <message>
        <source>stopping</source>
        <translation>stopper</translation>
    </message>
    <message>
        <source>user child (%1 in flight)</source>
        <translation>brukerbarn (%1 underveis)</translation>
    </message>
</context>
<context>
    <name>fmb::UserTableModel</name>
    <message>
        <source>User</source>
        <translation>Bruker</translation>
    </message>
    <message>
        <source>Sessions</source>
        <translation>Økter</translation>
    </message>
    <message>
        <source>User children</source>
        <translation>Brukerbarn</translation>
    </message>
    <message>
        <source>In flight</source>
        <translation>Underveis</translation>
    </message>
    <message>
        <source>Token expires</source>
        <translation>Token utløper</translation>
    </message>
    <message>
        <source>Clients</source>
        <translation>Klienter</translation>
    </message>
</context>
<context>
    <name>main</name>
    <message>
        <source>Lists and evicts the MCP sessions of a forgejo-mcp-brokerd through its admin socket.</source>
        <translation>Viser og kaster ut MCP-øktene til en forgejo-mcp-brokerd via administrasjonssokkelen dens.</translation>
    </message>
    <message>
        <source>Reach a broker on another host through OpenSSH (ssh -L to its admin socket); extra ssh options from FMB_SSH_OPTIONS.</source>
        <translation>Nå en megler på en annen vert gjennom OpenSSH (ssh -L til administrasjonssokkelen); ekstra ssh-valg fra FMB_SSH_OPTIONS.</translation>
    </message>
    <message>
        <source>Save the window to FILE once the sessions are listed, then quit.</source>
        <translation>Lagre vinduet i FIL når øktene er listet opp, og avslutt så.</translation>
    </message>
    <message>
        <source>Window size, e.g. 1120x420.</source>
        <translation>Vindusstørrelse, f.eks. 1120x420.</translation>
    </message>
    <message>
        <source>With --screenshot: wait this many seconds after the sessions are listed, so the charts have something to draw (default 1.5).</source>
        <translation>Med --screenshot: vent så mange sekunder etter at øktene er listet opp, så diagrammene har noe å tegne (standard 1,5).</translation>
    </message>
    <message>
        <source>Open on this tab: sessions or users.</source>
        <translation>Åpne på denne fanen: sessions (økter) eller users (brukere).</translation>
    </message>
    <message>
        <source>The broker&apos;s admin socket (default: %1). Give it (or --ssh) more than once to watch several brokers of a cluster.</source>
        <translation>Meglerens administrasjonssokkel (standard: %1). Gi den (eller --ssh) flere ganger for å følge flere meglere i en klynge.</translation>
    </message>
</context>
</TS>
