#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

#include "revision/StatelessRequest.h"

using namespace fmb;

// The 2026-07-28 request validator (core/revision): one row per rule of
// streamable-http "Server Validation" and basic/index "_meta", in the
// revision's order. The bodies are what @modelcontextprotocol/client 2.4.0
// pinned to 2026-07-28 sends (captured from the wire), edited one field at a
// time.
class tst_StatelessRequest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void validate_data();
    void validate();
    void acceptedRequest();
    void unsupportedVersionData();
    void route_data();
    void route();
    void decode_data();
    void decode();
};

namespace {

// What the v2 client sends (captured): server/discover, tools/call, resources/read.
const QByteArray Discover =
    R"({"jsonrpc":"2.0","id":"server-discover-probe-1","method":"server/discover","params":{"_meta":{)"
    R"("io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":)"
    R"({"name":"cap","version":"1.0.0"},"io.modelcontextprotocol/clientCapabilities":{}}}})";
const QByteArray Call =
    R"({"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"},"_meta":{)"
    R"("io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":)"
    R"({"name":"cap","version":"1.0.0"},"io.modelcontextprotocol/clientCapabilities":{}}},"jsonrpc":"2.0","id":0})";
const QByteArray Read =
    R"({"method":"resources/read","params":{"uri":"demo://resource/static/document/architecture.md","_meta":{)"
    R"("io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":)"
    R"({"name":"cap","version":"1.0.0"},"io.modelcontextprotocol/clientCapabilities":{}}},"jsonrpc":"2.0","id":2})";

QByteArray replaced(QByteArray body, const QByteArray &from, const QByteArray &to)
{
    Q_ASSERT(body.contains(from));
    return body.replace(from, to);
}

StatelessHeaders headers(const QByteArray &method, const QByteArray &name = {},
                         const QByteArray &version = "2026-07-28")
{
    return StatelessHeaders{version, method, name};
}

ParsedBody parsed(const QByteArray &body)
{
    const Result<ParsedBody, BodyError> result = parseBody(body);
    Q_ASSERT(result.ok());
    return result.value();
}

const QStringList Supported{QStringLiteral("2025-11-25"), QStringLiteral("2025-06-18")};

} // namespace

Q_DECLARE_METATYPE(fmb::StatelessHeaders)

void tst_StatelessRequest::validate_data()
{
    QTest::addColumn<StatelessHeaders>("headers");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("code"); // 0: accepted
    QTest::addColumn<QString>("message");

    const int mismatch = JsonRpcError::HeaderMismatch;
    const int unsupported = JsonRpcError::UnsupportedProtocolVersion;
    const int invalidParams = JsonRpcError::InvalidParams;
    const int notFound = JsonRpcError::MethodNotFound;
    const int invalid = JsonRpcError::InvalidRequest;
    const StatelessHeaders call = headers("tools/call", "echo");

    QTest::newRow("server/discover as the v2 client sends it")
        << headers("server/discover") << Discover << 0 << QString();
    QTest::newRow("tools/call as the v2 client sends it") << call << Call << 0 << QString();
    QTest::newRow("resources/read: Mcp-Name is the uri")
        << headers("resources/read", "demo://resource/static/document/architecture.md") << Read << 0
        << QString();
    QTest::newRow("Mcp-Name in base64 (non-ASCII name)")
        << headers("tools/call", "=?base64?Z3LDvMOf?=")
        << replaced(Call, R"("echo")", "\"gr\xC3\xBC\xC3\x9F\"") << 0 << QString();
    QTest::newRow("Mcp-Name in base64 of a plain name")
        << headers("tools/call", "=?base64?ZWNobw==?=") << Call << 0 << QString();

    // 1. The revision first, before anything else is looked at.
    QTest::newRow("unknown version in _meta and header")
        << headers("nothing", {}, "2099-01-01") << replaced(Discover, "2026-07-28", "2099-01-01")
        << unsupported << QStringLiteral("Unsupported protocol version: '2099-01-01'");
    QTest::newRow("unknown version in the header, no claim in _meta")
        << headers("server/discover", {}, "1999-01-01")
        << replaced(Discover, R"("io.modelcontextprotocol/protocolVersion":"2026-07-28",)", "") << unsupported
        << QStringLiteral("'1999-01-01'");
    QTest::newRow("a session revision in _meta")
        << headers("tools/call", "echo", "2025-11-25") << replaced(Call, "2026-07-28", "2025-11-25")
        << unsupported << QStringLiteral("served only in a session");
    QTest::newRow("unknown version before a missing header")
        << headers({}, {}, {}) << replaced(Call, "2026-07-28", "2099-01-01") << unsupported << QString();

    // 2. The mirrored headers.
    QTest::newRow("MCP-Protocol-Version missing") << headers("tools/call", "echo", {}) << Call << mismatch
                                                  << QStringLiteral("MCP-Protocol-Version header");
    QTest::newRow("MCP-Protocol-Version not the body's")
        << headers("tools/call", "echo", "2025-11-25") << Call << mismatch
        << QStringLiteral("'2025-11-25' does not match body value '2026-07-28'");
    QTest::newRow("Mcp-Method missing")
        << headers({}, "echo") << Call << mismatch << QStringLiteral("Mcp-Method header is required");
    QTest::newRow("Mcp-Method not the body's")
        << headers("tools/list", "echo") << Call << mismatch
        << QStringLiteral("Mcp-Method header value 'tools/list' does not match body value 'tools/call'");
    QTest::newRow("Mcp-Name missing on tools/call")
        << headers("tools/call") << Call << mismatch << QStringLiteral("Mcp-Name header is required");
    QTest::newRow("Mcp-Name missing on resources/read")
        << headers("resources/read") << Read << mismatch << QStringLiteral("Mcp-Name header is required");
    QTest::newRow("Mcp-Name missing on prompts/get")
        << headers("prompts/get")
        << replaced(replaced(Call, R"("tools/call")", R"("prompts/get")"), R"("name":"echo")",
                    R"("name":"p")")
        << mismatch << QStringLiteral("Mcp-Name header is required for prompts/get");
    QTest::newRow("Mcp-Name not the body's") << headers("tools/call", "add") << Call << mismatch
                                             << QStringLiteral("'add' does not match body value 'echo'");
    QTest::newRow("Mcp-Name in base64 not the body's") << headers("tools/call", "=?base64?YWRk?=") << Call
                                                       << mismatch << QStringLiteral("'add' does not match");
    QTest::newRow("Mcp-Name: broken base64")
        << headers("tools/call", "=?base64?!!!?=") << Call << mismatch << QStringLiteral("is malformed");
    QTest::newRow("Mcp-Name: base64 of invalid UTF-8")
        << headers("tools/call", "=?base64?/w==?=") << Call << mismatch << QStringLiteral("is malformed");
    QTest::newRow("Mcp-Name: raw non-ASCII") << headers("tools/call", "gr\xC3\xBC\xC3\x9F")
                                             << replaced(Call, R"("echo")", "\"gr\xC3\xBC\xC3\x9F\"")
                                             << mismatch << QStringLiteral("is malformed");
    QTest::newRow("Mcp-Name sent, the body has no name")
        << call << replaced(Call, R"("name":"echo",)", "") << mismatch << QStringLiteral("(none)");
    QTest::newRow("no Mcp-Name and no name: left to the server")
        << headers("tools/call") << replaced(Call, R"("name":"echo",)", "") << 0 << QString();

    // 3. The per-request fields of _meta.
    QTest::newRow("_meta without protocolVersion")
        << headers("server/discover")
        << replaced(Discover, R"("io.modelcontextprotocol/protocolVersion":"2026-07-28",)", "")
        << invalidParams << QStringLiteral("io.modelcontextprotocol/protocolVersion as a string");
    QTest::newRow("_meta without clientCapabilities")
        << headers("server/discover")
        << replaced(Discover, R"(,"io.modelcontextprotocol/clientCapabilities":{})", "") << invalidParams
        << QStringLiteral("io.modelcontextprotocol/clientCapabilities as an object");
    QTest::newRow("clientCapabilities not an object")
        << headers("server/discover")
        << replaced(Discover, R"("io.modelcontextprotocol/clientCapabilities":{})",
                    R"("io.modelcontextprotocol/clientCapabilities":[])")
        << invalidParams << QStringLiteral("clientCapabilities as an object");
    QTest::newRow("no _meta at all") << headers("tools/list")
                                     << QByteArray(
                                            R"({"jsonrpc":"2.0","id":3,"method":"tools/list","params":{}})")
                                     << invalidParams << QStringLiteral("params._meta is required");
    QTest::newRow("no params at all")
        << headers("tools/list") << QByteArray(R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})")
        << invalidParams << QStringLiteral("params._meta is required");
    QTest::newRow("a missing field before an unknown method")
        << headers("ping") << QByteArray(R"({"jsonrpc":"2.0","id":3,"method":"ping"})") << invalidParams
        << QString();

    // 4. The method.
    QTest::newRow("removed: ping") << headers("ping") << replaced(Discover, "server/discover", "ping")
                                   << notFound
                                   << QStringLiteral("Method not found: ping was removed in 2026-07-28");
    QTest::newRow("removed: logging/setLevel")
        << headers("logging/setLevel") << replaced(Discover, "server/discover", "logging/setLevel")
        << notFound << QStringLiteral("removed");
    QTest::newRow("removed: resources/subscribe")
        << headers("resources/subscribe") << replaced(Discover, "server/discover", "resources/subscribe")
        << notFound << QStringLiteral("removed");
    QTest::newRow("unknown method") << headers("frobnicate")
                                    << replaced(Discover, "server/discover", "frobnicate") << notFound
                                    << QStringLiteral("Method not found: frobnicate");

    // The body itself.
    QTest::newRow("a batch") << call << QByteArray('[' + Call + ']') << invalid
                             << QStringLiteral("not a batch");
    QTest::newRow("a notification")
        << headers("notifications/cancelled")
        << QByteArray(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"_meta":{)"
                      R"("io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})")
        << invalid << QStringLiteral("no client notifications");
    QTest::newRow("a response") << call << QByteArray(R"({"jsonrpc":"2.0","id":1,"result":{}})") << invalid
                                << QStringLiteral("sends no responses");
}

void tst_StatelessRequest::validate()
{
    QFETCH(StatelessHeaders, headers);
    QFETCH(QByteArray, body);
    QFETCH(int, code);
    QFETCH(QString, message);

    const Result<StatelessRequest, StatelessFailure> result =
        parseStatelessRequest(headers, parsed(body), Supported);
    if (code == 0) {
        QVERIFY2(result.ok(), result.ok() ? "" : qPrintable(result.error().message));
        return;
    }
    QVERIFY(!result.ok());
    const StatelessFailure &failure = result.error();
    QCOMPARE(failure.code, code);
    QVERIFY2(failure.message.contains(message), qPrintable(failure.message));
    // The answer names the request it refuses, when there is one.
    const QJsonValue id = QJsonDocument::fromJson(body).object().value(QLatin1String("id"));
    if (code != JsonRpcError::InvalidRequest)
        QCOMPARE(failure.id, id);
    else
        QVERIFY(failure.id.isNull());
    QCOMPARE(!failure.data.isUndefined(), code == JsonRpcError::UnsupportedProtocolVersion);
}

void tst_StatelessRequest::acceptedRequest()
{
    const Result<StatelessRequest, StatelessFailure> result =
        parseStatelessRequest(headers("tools/call", "echo"), parsed(Call), Supported);
    QVERIFY(result.ok());
    const StatelessRequest &request = result.value();
    QCOMPARE(request.method, QStringLiteral("tools/call"));
    QCOMPARE(request.name, QStringLiteral("echo"));
    QCOMPARE(request.id, QJsonValue(0));
    QCOMPARE(request.requestId, RequestId(0));
    QCOMPARE(request.protocolVersion, QStringLiteral("2026-07-28"));
    QCOMPARE(request.clientCapabilities, QJsonObject());
    QCOMPARE(request.clientInfo.value(QLatin1String("name")).toString(), QStringLiteral("cap"));
    QCOMPARE(request.meta.size(), 3);
    QCOMPARE(request.params.value(QLatin1String("arguments")).toObject().value(QLatin1String("message")),
             QJsonValue(QStringLiteral("hi")));
}

void tst_StatelessRequest::unsupportedVersionData()
{
    const Result<StatelessRequest, StatelessFailure> result =
        parseStatelessRequest(headers("server/discover", {}, "2099-01-01"),
                              parsed(replaced(Discover, "2026-07-28", "2099-01-01")), Supported);
    QVERIFY(!result.ok());
    const StatelessFailure &failure = result.error();
    QCOMPARE(failure.kind, StatelessFailureKind::UnsupportedVersion);
    QCOMPARE(failure.id, QJsonValue(QStringLiteral("server-discover-probe-1")));
    // basic/versioning: data.supported lists every revision served, data.requested the one asked for.
    QCOMPARE(QJsonDocument(failure.data.toObject()).toJson(QJsonDocument::Compact),
             QByteArray(R"({"requested":"2099-01-01","supported":["2025-11-25","2025-06-18"]})"));
}

void tst_StatelessRequest::route_data()
{
    QTest::addColumn<QByteArray>("versionHeader");
    QTest::addColumn<bool>("sessionId");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<bool>("stateless");

    const QByteArray initialize =
        R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",)"
        R"("capabilities":{},"clientInfo":{"name":"c","version":"1"}}})";
    const QByteArray sessionCall = R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})";
    QTest::newRow("_meta claim, no header") << QByteArray() << false << Call << true;
    QTest::newRow("_meta claim and header") << QByteArray("2026-07-28") << false << Call << true;
    QTest::newRow("_meta claim of an unknown version")
        << QByteArray("2099-01-01") << false << replaced(Call, "2026-07-28", "2099-01-01") << true;
    QTest::newRow("2026-07-28 header, no claim") << QByteArray("2026-07-28") << false << sessionCall << true;
    QTest::newRow("a claim in a batch") << QByteArray() << false << QByteArray('[' + Call + ']') << true;
    QTest::newRow("with a session id: the session's") << QByteArray("2026-07-28") << true << Call << false;
    QTest::newRow("initialize") << QByteArray() << false << initialize << false;
    QTest::newRow("initialize with the 2026-07-28 header")
        << QByteArray("2026-07-28") << false << initialize << false;
    QTest::newRow("a 2025 header, no claim") << QByteArray("2025-11-25") << false << sessionCall << false;
    QTest::newRow("no header, no claim") << QByteArray() << false << sessionCall << false;
}

void tst_StatelessRequest::route()
{
    QFETCH(QByteArray, versionHeader);
    QFETCH(bool, sessionId);
    QFETCH(QByteArray, body);
    QFETCH(bool, stateless);

    QCOMPARE(isStatelessPost(StatelessHeaders{versionHeader, {}, {}}, sessionId, parsed(body).messages),
             stateless);
}

void tst_StatelessRequest::decode_data()
{
    QTest::addColumn<QByteArray>("value");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<QString>("decoded");

    // The examples of streamable-http "Value Encoding".
    QTest::newRow("plain") << QByteArray("us-west1") << true << QStringLiteral("us-west1");
    QTest::newRow("base64 of non-ASCII")
        << QByteArray("=?base64?SGVsbG8sIOS4lueVjA==?=") << true << QStringLiteral("Hello, \u4e16\u754c");
    QTest::newRow("base64 of padding spaces")
        << QByteArray("=?base64?IHBhZGRlZCA=?=") << true << QStringLiteral(" padded ");
    QTest::newRow("base64 of a newline")
        << QByteArray("=?base64?bGluZTEKbGluZTI=?=") << true << QStringLiteral("line1\nline2");
    QTest::newRow("base64 of the sentinel")
        << QByteArray("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=") << true << QStringLiteral("=?base64?literal?=");
    QTest::newRow("base64 of nothing") << QByteArray("=?base64?"
                                                     "?=")
                                       << true << QString();
    QTest::newRow("inner space") << QByteArray("a b") << true << QStringLiteral("a b");
    QTest::newRow("empty") << QByteArray() << false << QString();
    QTest::newRow("leading space") << QByteArray(" a") << false << QString();
    QTest::newRow("control byte") << QByteArray("a\x01") << false << QString();
    QTest::newRow("DEL") << QByteArray("a\x7f") << false << QString();
    QTest::newRow("sentinel in upper case is plain")
        << QByteArray("=?BASE64?YQ==?=") << true << QStringLiteral("=?BASE64?YQ==?=");
    QTest::newRow("bad base64") << QByteArray("=?base64?a*b?=") << false << QString();
}

void tst_StatelessRequest::decode()
{
    QFETCH(QByteArray, value);
    QFETCH(bool, valid);
    QFETCH(QString, decoded);

    const std::optional<QString> result = decodeMirroredHeader(value);
    QCOMPARE(result.has_value(), valid);
    if (valid)
        QCOMPARE(*result, decoded);
}

QTEST_GUILESS_MAIN(tst_StatelessRequest)
#include "tst_statelessrequest.moc"
