#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include "oauth/ClientMetadata.h"

using fmb::ClientMetadata;
using fmb::OAuthError;
using fmb::Result;

class tst_ClientMetadata : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void redirectUri_data();
    void redirectUri();
    void redirectUriMatches_data();
    void redirectUriMatches();
    void registration_data();
    void registration();
    void registrationDefaults();
    void metadataDocumentUrl_data();
    void metadataDocumentUrl();
    void metadataDocument_data();
    void metadataDocument();
    void sameResource_data();
    void sameResource();
};

void tst_ClientMetadata::redirectUri_data()
{
    QTest::addColumn<QString>("uri");
    QTest::addColumn<bool>("ok");

    QTest::newRow("https with a path") << QStringLiteral("https://app.example/oauth/cb") << true;
    QTest::newRow("https with a query") << QStringLiteral("https://app.example/cb?x=1") << true;
    QTest::newRow("http on 127.0.0.1 with a port") << QStringLiteral("http://127.0.0.1:33418/cb") << true;
    QTest::newRow("http on another loopback address") << QStringLiteral("http://127.1.2.3/cb") << true;
    QTest::newRow("http on localhost") << QStringLiteral("http://localhost:3000/callback") << true;
    QTest::newRow("http on [::1]") << QStringLiteral("http://[::1]:3000/callback") << true;
    QTest::newRow("http on a public host") << QStringLiteral("http://app.example/cb") << false;
    QTest::newRow("http on a private address") << QStringLiteral("http://192.168.1.5/cb") << false;
    QTest::newRow("http on a name that starts with localhost")
        << QStringLiteral("http://localhost.evil.example/cb") << false;
    QTest::newRow("fragment") << QStringLiteral("https://app.example/cb#top") << false;
    QTest::newRow("empty fragment") << QStringLiteral("https://app.example/cb#") << false;
    QTest::newRow("user info") << QStringLiteral("https://user:pw@app.example/cb") << false;
    // RFC 8252 §7.1: native apps' private-use schemes.
    QTest::newRow("Cursor's private-use scheme")
        << QStringLiteral("cursor://anysphere.cursor-mcp/oauth/callback") << true;
    QTest::newRow("VS Code's private-use scheme")
        << QStringLiteral("vscode://vscode.github-authentication/did-authenticate") << true;
    QTest::newRow("reverse-domain scheme without a host")
        << QStringLiteral("com.example.app:/oauth2redirect/example-provider") << true;
    QTest::newRow("private-use scheme with a fragment")
        << QStringLiteral("cursor://anysphere.cursor-mcp/oauth/callback#x") << false;
    QTest::newRow("private-use scheme with user info")
        << QStringLiteral("cursor://me@anysphere.cursor-mcp/oauth/callback") << false;
    QTest::newRow("a scheme and nothing else") << QStringLiteral("myapp:") << false;
    QTest::newRow("javascript") << QStringLiteral("javascript:alert(1)") << false;
    QTest::newRow("JavaScript in capitals") << QStringLiteral("JAVASCRIPT:alert(1)") << false;
    QTest::newRow("data") << QStringLiteral("data:text/html,<script>alert(1)</script>") << false;
    QTest::newRow("file") << QStringLiteral("file:///etc/passwd") << false;
    QTest::newRow("vbscript") << QStringLiteral("vbscript:msgbox(1)") << false;
    QTest::newRow("about") << QStringLiteral("about:blank") << false;
    QTest::newRow("blob") << QStringLiteral("blob:https://app.example/3f2a") << false;
    QTest::newRow("ftp") << QStringLiteral("ftp://files.example/cb") << false;
    QTest::newRow("ws") << QStringLiteral("ws://app.example/cb") << false;
    QTest::newRow("https without a host") << QStringLiteral("https:/cb") << false;
    QTest::newRow("relative") << QStringLiteral("/callback") << false;
    QTest::newRow("empty") << QString() << false;
    QTest::newRow("over 2000 characters")
        << QStringLiteral("https://app.example/") + QString(2000, QLatin1Char('a')) << false;
}

void tst_ClientMetadata::redirectUri()
{
    QFETCH(QString, uri);
    QFETCH(bool, ok);
    const Result<void, OAuthError> checked = fmb::checkRedirectUri(uri);
    QCOMPARE(checked.ok(), ok);
    if (!ok) {
        QCOMPARE(checked.error().error, QByteArrayLiteral("invalid_redirect_uri"));
        QVERIFY(!checked.error().description.isEmpty());
    }
}

void tst_ClientMetadata::redirectUriMatches_data()
{
    QTest::addColumn<QStringList>("registered");
    QTest::addColumn<QString>("requested");
    QTest::addColumn<bool>("matches");

    const QStringList vscode{QStringLiteral("http://127.0.0.1/"), QStringLiteral("http://127.0.0.1:33418/"),
                             QStringLiteral("https://vscode.dev/redirect"),
                             QStringLiteral("https://insiders.vscode.dev/redirect")};
    const QStringList claudeCode{QStringLiteral("http://localhost/callback"),
                                 QStringLiteral("http://127.0.0.1/callback")};
    QTest::newRow("VS Code: registered port") << vscode << QStringLiteral("http://127.0.0.1:33418/") << true;
    QTest::newRow("VS Code: a random port") << vscode << QStringLiteral("http://127.0.0.1:51234/") << true;
    QTest::newRow("VS Code: no port") << vscode << QStringLiteral("http://127.0.0.1/") << true;
    QTest::newRow("VS Code: web redirect") << vscode << QStringLiteral("https://vscode.dev/redirect") << true;
    QTest::newRow("VS Code: another path") << vscode << QStringLiteral("http://127.0.0.1:51234/x") << false;
    QTest::newRow("VS Code: localhost instead of 127.0.0.1")
        << vscode << QStringLiteral("http://localhost:51234/") << false;
    QTest::newRow("VS Code: https on a loopback port")
        << vscode << QStringLiteral("https://127.0.0.1:51234/") << false;
    QTest::newRow("Claude Code: localhost, ephemeral port")
        << claudeCode << QStringLiteral("http://localhost:49152/callback") << true;
    QTest::newRow("Claude Code: 127.0.0.1, ephemeral port")
        << claudeCode << QStringLiteral("http://127.0.0.1:52163/callback") << true;
    QTest::newRow("Claude Code: [::1] was not registered")
        << claudeCode << QStringLiteral("http://[::1]:52163/callback") << false;
    QTest::newRow("Claude Code: a query added")
        << claudeCode << QStringLiteral("http://localhost:49152/callback?x=1") << false;
    QTest::newRow("Claude Code: a fragment added")
        << claudeCode << QStringLiteral("http://localhost:49152/callback#x") << false;
    QTest::newRow("Claude Code: user info added")
        << claudeCode << QStringLiteral("http://evil@localhost:49152/callback") << false;
    QTest::newRow("loopback with a port: any other port")
        << QStringList{QStringLiteral("http://localhost:6274/oauth/callback")}
        << QStringLiteral("http://localhost:7000/oauth/callback") << true;
    QTest::newRow("loopback without a path matches /") << QStringList{QStringLiteral("http://127.0.0.1")}
                                                       << QStringLiteral("http://127.0.0.1:9000/") << true;
    QTest::newRow("another loopback address is another host")
        << QStringList{QStringLiteral("http://127.0.0.1/cb")} << QStringLiteral("http://127.0.0.2:80/cb")
        << false;
    QTest::newRow("https: exact only")
        << QStringList{QStringLiteral("https://claude.ai/api/mcp/auth_callback")}
        << QStringLiteral("https://claude.ai:443/api/mcp/auth_callback") << false;
    QTest::newRow("https: a trailing slash differs")
        << QStringList{QStringLiteral("https://chatgpt.com/connector_platform_oauth_redirect")}
        << QStringLiteral("https://chatgpt.com/connector_platform_oauth_redirect/") << false;
    QTest::newRow("private-use scheme: exact")
        << QStringList{QStringLiteral("cursor://anysphere.cursor-mcp/oauth/callback")}
        << QStringLiteral("cursor://anysphere.cursor-mcp/oauth/callback") << true;
    QTest::newRow("private-use scheme: no port freedom")
        << QStringList{QStringLiteral("cursor://anysphere.cursor-mcp/oauth/callback")}
        << QStringLiteral("cursor://anysphere.cursor-mcp:8080/oauth/callback") << false;
    QTest::newRow("public host over http never matches loopback")
        << QStringList{QStringLiteral("http://127.0.0.1/cb")} << QStringLiteral("http://app.example/cb")
        << false;
}

void tst_ClientMetadata::redirectUriMatches()
{
    QFETCH(QStringList, registered);
    QFETCH(QString, requested);
    QFETCH(bool, matches);
    QCOMPARE(fmb::redirectUriMatches(registered, requested), matches);
}

void tst_ClientMetadata::registration_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("error"); // empty: accepted

    QTest::newRow("minimal") << QByteArray(R"({"redirect_uris":["https://a.example/cb"]})") << QString();
    QTest::newRow("everything an SDK sends")
        << QByteArray(
               R"({"client_name":"Claude","redirect_uris":["http://localhost:1234/cb"],)"
               R"("grant_types":["authorization_code","refresh_token"],"response_types":["code"],)"
               R"("token_endpoint_auth_method":"none","scope":"mcp","client_uri":"https://x.example"})")
        << QString();
    QTest::newRow("token_endpoint_auth_method null")
        << QByteArray(R"({"redirect_uris":["https://a.example/cb"],)"
                      R"("token_endpoint_auth_method":null})")
        << QString();
    QTest::newRow("no redirect_uris") << QByteArray("{}") << QStringLiteral("invalid_redirect_uri");
    QTest::newRow("redirect_uris with a number")
        << QByteArray(R"({"redirect_uris":[1]})") << QStringLiteral("invalid_redirect_uri");
    QTest::newRow("one bad redirect among good ones")
        << QByteArray(R"({"redirect_uris":["https://a.example/cb","http://a.example/cb"]})")
        << QStringLiteral("invalid_redirect_uri");
    QTest::newRow("client_secret_post") << QByteArray(R"({"redirect_uris":["https://a.example/cb"],)"
                                                      R"("token_endpoint_auth_method":"client_secret_post"})")
                                        << QString();
    QTest::newRow("client_secret_basic")
        << QByteArray(R"({"redirect_uris":["https://a.example/cb"],)"
                      R"("token_endpoint_auth_method":"client_secret_basic"})")
        << QString();
    QTest::newRow("client_secret_jwt") << QByteArray(R"({"redirect_uris":["https://a.example/cb"],)"
                                                     R"("token_endpoint_auth_method":"client_secret_jwt"})")
                                       << QStringLiteral("invalid_client_metadata");
    QTest::newRow("token_endpoint_auth_method a number")
        << QByteArray(R"({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":1})")
        << QStringLiteral("invalid_client_metadata");
    QTest::newRow("private_key_jwt") << QByteArray(R"({"redirect_uris":["https://a.example/cb"],)"
                                                   R"("token_endpoint_auth_method":"private_key_jwt"})")
                                     << QStringLiteral("invalid_client_metadata");
    QTest::newRow("client_credentials grant")
        << QByteArray(R"({"redirect_uris":["https://a.example/cb"],)"
                      R"("grant_types":["authorization_code","client_credentials"]})")
        << QStringLiteral("invalid_client_metadata");
    QTest::newRow("grant_types empty")
        << QByteArray(R"({"redirect_uris":["https://a.example/cb"],"grant_types":[]})")
        << QStringLiteral("invalid_client_metadata");
    QTest::newRow("response_types empty")
        << QByteArray(R"({"redirect_uris":["https://a.example/cb"],"response_types":[]})")
        << QStringLiteral("invalid_client_metadata");
    QTest::newRow("client_name with a newline")
        << QByteArray(R"({"redirect_uris":["https://a.example/cb"],"client_name":"a\nb"})")
        << QStringLiteral("invalid_client_metadata");
    QTest::newRow("client_name of 201 characters")
        << QByteArray(R"({"redirect_uris":["https://a.example/cb"],"client_name":")") + QByteArray(201, 'n') +
               QByteArray(R"("})")
        << QStringLiteral("invalid_client_metadata");
}

void tst_ClientMetadata::registration()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, error);
    const Result<ClientMetadata, OAuthError> parsed =
        fmb::parseRegistration(QJsonDocument::fromJson(json).object());
    QCOMPARE(parsed.ok(), error.isEmpty());
    if (!error.isEmpty()) {
        QCOMPARE(QString::fromLatin1(parsed.error().error), error);
        QCOMPARE(parsed.error().status, 400);
    }
}

void tst_ClientMetadata::registrationDefaults()
{
    const Result<ClientMetadata, OAuthError> parsed = fmb::parseRegistration(
        QJsonDocument::fromJson(R"({"redirect_uris":["https://a.example/cb","https://a.example/cb"],)"
                                R"("client_name":"  Spaced  "})")
            .object());
    QVERIFY(parsed.ok());
    QCOMPARE(parsed.value().redirectUris, QStringList{QStringLiteral("https://a.example/cb")});
    QCOMPARE(parsed.value().clientName, QStringLiteral("Spaced"));
    QCOMPARE(parsed.value().grantTypes,
             (QStringList{QStringLiteral("authorization_code"), QStringLiteral("refresh_token")}));
    QCOMPARE(parsed.value().responseTypes, QStringList{QStringLiteral("code")});
    QCOMPARE(parsed.value().tokenEndpointAuthMethod, QStringLiteral("none"));
    const Result<ClientMetadata, OAuthError> confidential = fmb::parseRegistration(
        QJsonDocument::fromJson(R"({"redirect_uris":["https://claude.ai/api/mcp/auth_callback"],)"
                                R"("token_endpoint_auth_method":"client_secret_post"})")
            .object());
    QVERIFY(confidential.ok());
    QCOMPARE(confidential.value().tokenEndpointAuthMethod, QStringLiteral("client_secret_post"));
}

void tst_ClientMetadata::metadataDocumentUrl_data()
{
    QTest::addColumn<QString>("clientId");
    QTest::addColumn<bool>("allowHttp");
    QTest::addColumn<bool>("ok");

    QTest::newRow("https with a path")
        << QStringLiteral("https://app.example/oauth/client.json") << false << true;
    QTest::newRow("https with a query") << QStringLiteral("https://app.example/c?v=2") << false << true;
    QTest::newRow("https without a path") << QStringLiteral("https://app.example") << false << false;
    QTest::newRow("https with only /") << QStringLiteral("https://app.example/") << false << false;
    QTest::newRow("http refused") << QStringLiteral("http://app.example/client.json") << false << false;
    QTest::newRow("http with allowHttp (tests)")
        << QStringLiteral("http://127.0.0.1:8000/client.json") << true << true;
    QTest::newRow("fragment") << QStringLiteral("https://app.example/client.json#x") << false << false;
    QTest::newRow("user info") << QStringLiteral("https://u:p@app.example/client.json") << false << false;
    QTest::newRow("dot segment") << QStringLiteral("https://app.example/a/./client.json") << false << false;
    QTest::newRow("dot-dot segment") << QStringLiteral("https://app.example/a/../client.json") << false
                                     << false;
}

void tst_ClientMetadata::metadataDocumentUrl()
{
    QFETCH(QString, clientId);
    QFETCH(bool, allowHttp);
    QFETCH(bool, ok);
    const Result<QUrl, OAuthError> checked = fmb::checkMetadataDocumentUrl(clientId, allowHttp);
    QCOMPARE(checked.ok(), ok);
    if (!ok)
        QCOMPARE(checked.error().error, QByteArrayLiteral("invalid_client"));
}

void tst_ClientMetadata::metadataDocument_data()
{
    QTest::addColumn<QByteArray>("document");
    QTest::addColumn<bool>("ok");

    const QByteArray id = R"("client_id":"https://app.example/client.json")";
    QTest::newRow("the spec's example")
        << QByteArray(
               "{" + id +
               R"(,"client_name":"Example MCP Client","client_uri":"https://app.example",)"
               R"("redirect_uris":["http://127.0.0.1:3000/callback","http://localhost:3000/callback"],)"
               R"("grant_types":["authorization_code"],"response_types":["code"],)"
               R"("token_endpoint_auth_method":"none"})")
        << true;
    QTest::newRow("no client_name") << QByteArray("{" + id +
                                                  R"(,"redirect_uris":["https://app.example/cb"]})")
                                    << true;
    QTest::newRow("client_id with a trailing slash")
        << QByteArray(
               R"({"client_id":"https://app.example/client.json/","redirect_uris":["https://app.example/cb"]})")
        << false;
    QTest::newRow("client_id missing")
        << QByteArray(R"({"redirect_uris":["https://app.example/cb"]})") << false;
    QTest::newRow("redirect_uris missing") << QByteArray("{" + id + "}") << false;
    QTest::newRow("a client secret")
        << QByteArray("{" + id + R"(,"client_secret":"s","redirect_uris":["https://a.example/cb"]})")
        << false;
    QTest::newRow("private_key_jwt") << QByteArray("{" + id +
                                                   R"(,"token_endpoint_auth_method":"private_key_jwt",)"
                                                   R"("redirect_uris":["https://a.example/cb"]})")
                                     << false;
    QTest::newRow("client_secret_post: no secret to send")
        << QByteArray(
               "{" + id +
               R"(,"token_endpoint_auth_method":"client_secret_post","redirect_uris":["https://a.example/cb"]})")
        << false;
    QTest::newRow("Claude Code's port-less loopback redirects")
        << QByteArray("{" + id +
                      R"(,"client_name":"Claude Code","redirect_uris":["http://localhost/callback",)"
                      R"("http://127.0.0.1/callback"],"grant_types":["authorization_code","refresh_token"],)"
                      R"("response_types":["code"],"token_endpoint_auth_method":"none"})")
        << true;
    QTest::newRow("a JSON array") << QByteArray("[]") << false;
    QTest::newRow("not JSON") << QByteArray("client_id=x") << false;
}

void tst_ClientMetadata::metadataDocument()
{
    QFETCH(QByteArray, document);
    QFETCH(bool, ok);
    const Result<ClientMetadata, OAuthError> parsed =
        fmb::parseMetadataDocument(document, QStringLiteral("https://app.example/client.json"));
    QVERIFY2(parsed.ok() == ok, parsed.ok() ? "accepted" : qPrintable(parsed.error().description));
    if (!ok)
        QCOMPARE(parsed.error().error, QByteArrayLiteral("invalid_client"));
}

void tst_ClientMetadata::sameResource_data()
{
    QTest::addColumn<QString>("a");
    QTest::addColumn<QString>("b");
    QTest::addColumn<bool>("same");

    const QString ours = QStringLiteral("https://mcp.example.org/mcp");
    QTest::newRow("identical") << ours << ours << true;
    QTest::newRow("upper-case scheme and host")
        << QStringLiteral("HTTPS://MCP.Example.ORG/mcp") << ours << true;
    QTest::newRow("trailing slash") << QStringLiteral("https://mcp.example.org/mcp/") << ours << true;
    QTest::newRow("explicit default port")
        << QStringLiteral("https://mcp.example.org:443/mcp") << ours << true;
    QTest::newRow("path case matters") << QStringLiteral("https://mcp.example.org/MCP") << ours << false;
    QTest::newRow("another host") << QStringLiteral("https://evil.example/mcp") << ours << false;
    QTest::newRow("another port") << QStringLiteral("https://mcp.example.org:8443/mcp") << ours << false;
    QTest::newRow("http instead of https") << QStringLiteral("http://mcp.example.org/mcp") << ours << false;
    QTest::newRow("the origin only") << QStringLiteral("https://mcp.example.org") << ours << false;
    QTest::newRow("a fragment") << QStringLiteral("https://mcp.example.org/mcp#x") << ours << false;
    QTest::newRow("a query") << QStringLiteral("https://mcp.example.org/mcp?x=1") << ours << false;
    QTest::newRow("not absolute") << QStringLiteral("/mcp") << QStringLiteral("/mcp") << false;
}

void tst_ClientMetadata::sameResource()
{
    QFETCH(QString, a);
    QFETCH(QString, b);
    QFETCH(bool, same);
    QCOMPARE(fmb::sameResource(a, b), same);
    QCOMPARE(fmb::sameResource(b, a), same);
}

QTEST_GUILESS_MAIN(tst_ClientMetadata)
#include "tst_clientmetadata.moc"
