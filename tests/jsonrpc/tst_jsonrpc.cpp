#include <algorithm>

#include <QJsonArray>
#include <QJsonDocument>
#include <QMetaEnum>
#include <QTest>

#include "jsonrpc/JsonRpc.h"

using namespace fmb;

Q_DECLARE_METATYPE(fmb::RequestId)

namespace {

QJsonObject object(const QByteArray &json)
{
    QJsonParseError error{};
    const QJsonDocument document = QJsonDocument::fromJson(json, &error);
    if (error.error != QJsonParseError::NoError || !document.isObject())
        qFatal("test data is not a JSON object: %s", json.constData());
    return document.object();
}

// A JSON value as written on the wire, e.g. "1.0" or "{\"a\":1}"; "" is undefined (absent).
QJsonValue value(const QByteArray &json)
{
    if (json.isEmpty())
        return QJsonValue(QJsonValue::Undefined);
    return object(QByteArrayLiteral("{\"v\":") + json + '}').value(QLatin1String("v"));
}

// A value as compact JSON, so a failed comparison prints something readable.
QByteArray show(const QJsonValue &v)
{
    if (v.isUndefined())
        return QByteArrayLiteral("undefined");
    return QJsonDocument(QJsonArray{v}).toJson(QJsonDocument::Compact).chopped(1).sliced(1);
}

QString kinds(const QList<JsonRpcMessage> &messages)
{
    QStringList names;
    for (const JsonRpcMessage &message : messages)
        names.append(QString::fromLatin1(QMetaEnum::fromType<MessageKind>().valueToKey(int(message.kind))));
    return names.join(QLatin1Char(','));
}

} // namespace

class tst_JsonRpc : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void classify_data();
    void classify();
    void requestIdFromJson_data();
    void requestIdFromJson();
    void requestIdRoundTrip_data();
    void requestIdRoundTrip();
    void requestIdTextForms_data();
    void requestIdTextForms();
    void requestIdEqualityAndHash();
    void requestIdOrder();
    void progressToken_data();
    void progressToken();
    void parseBody_data();
    void parseBody();
    void parseBodyError_data();
    void parseBodyError();
    void parseBodyLimits_data();
    void parseBodyLimits();
    void parseBodyRefusesHugeBatchByDefault();
    void parseBodyRawIsOneLine_data();
    void parseBodyRawIsOneLine();
    void parseBodyBatchHasNoRaw();
    void parseLine_data();
    void parseLine();
    void makeErrorResponse_data();
    void makeErrorResponse();
    void errorResponseWithData();
    void line_data();
    void line();
};

void tst_JsonRpc::classify_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<MessageKind>("kind");
    QTest::addColumn<QString>("requestId"); // its text form; empty when null
    QTest::addColumn<QString>("method");

    QTest::newRow("request: numeric id")
        << QByteArray(R"({"jsonrpc":"2.0","id":1,"method":"ping"})") << MessageKind::Request
        << QStringLiteral("1") << QStringLiteral("ping");
    QTest::newRow("request: string id")
        << QByteArray(R"({"jsonrpc":"2.0","id":"abc","method":"tools/list"})") << MessageKind::Request
        << QStringLiteral(R"("abc")") << QStringLiteral("tools/list");
    QTest::newRow("request: with params")
        << QByteArray(R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x"}})")
        << MessageKind::Request << QStringLiteral("7") << QStringLiteral("tools/call");
    QTest::newRow("notification: no id")
        << QByteArray(R"({"jsonrpc":"2.0","method":"notifications/initialized"})")
        << MessageKind::Notification << QString() << QStringLiteral("notifications/initialized");
    QTest::newRow("response: result") << QByteArray(R"({"jsonrpc":"2.0","id":3,"result":{}})")
                                      << MessageKind::Response << QStringLiteral("3") << QString();
    QTest::newRow("response: null result") << QByteArray(R"({"jsonrpc":"2.0","id":"r","result":null})")
                                           << MessageKind::Response << QStringLiteral(R"("r")") << QString();
    QTest::newRow("error response")
        << QByteArray(R"({"jsonrpc":"2.0","id":4,"error":{"code":-32601,"message":"nope"}})")
        << MessageKind::Response << QStringLiteral("4") << QString();
    QTest::newRow("error response: id null")
        << QByteArray(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}})")
        << MessageKind::Response << QString() << QString();

    QTest::newRow("invalid: result with id null") << QByteArray(R"({"jsonrpc":"2.0","id":null,"result":{}})")
                                                  << MessageKind::Invalid << QString() << QString();
    QTest::newRow("invalid: jsonrpc missing")
        << QByteArray(R"({"id":1,"method":"ping"})") << MessageKind::Invalid << QString() << QString();
    QTest::newRow("invalid: jsonrpc 1.0") << QByteArray(R"({"jsonrpc":"1.0","id":1,"method":"ping"})")
                                          << MessageKind::Invalid << QString() << QString();
    QTest::newRow("invalid: jsonrpc is a number") << QByteArray(R"({"jsonrpc":2.0,"id":1,"method":"ping"})")
                                                  << MessageKind::Invalid << QString() << QString();
    QTest::newRow("invalid: empty method") << QByteArray(R"({"jsonrpc":"2.0","id":1,"method":""})")
                                           << MessageKind::Invalid << QString() << QString();
    QTest::newRow("invalid: method is a number") << QByteArray(R"({"jsonrpc":"2.0","id":1,"method":5})")
                                                 << MessageKind::Invalid << QString() << QString();
    QTest::newRow("invalid: method null")
        << QByteArray(R"({"jsonrpc":"2.0","method":null})") << MessageKind::Invalid << QString() << QString();
    QTest::newRow("invalid: request id null") << QByteArray(R"({"jsonrpc":"2.0","id":null,"method":"ping"})")
                                              << MessageKind::Invalid << QString() << QString();
    QTest::newRow("invalid: request id fraction")
        << QByteArray(R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})") << MessageKind::Invalid << QString()
        << QString();
    QTest::newRow("invalid: request id object")
        << QByteArray(R"({"jsonrpc":"2.0","id":{"a":1},"method":"ping"})") << MessageKind::Invalid
        << QString() << QString();
    QTest::newRow("invalid: result and error")
        << QByteArray(R"({"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}})")
        << MessageKind::Invalid << QString() << QString();
    QTest::newRow("invalid: neither method, result nor error")
        << QByteArray(R"({"jsonrpc":"2.0","id":1})") << MessageKind::Invalid << QString() << QString();
    QTest::newRow("invalid: response without id")
        << QByteArray(R"({"jsonrpc":"2.0","result":{}})") << MessageKind::Invalid << QString() << QString();
    QTest::newRow("invalid: error response id object")
        << QByteArray(R"({"jsonrpc":"2.0","id":{},"error":{"code":1,"message":"m"}})") << MessageKind::Invalid
        << QString() << QString();
    QTest::newRow("invalid: empty object")
        << QByteArray("{}") << MessageKind::Invalid << QString() << QString();
}

void tst_JsonRpc::classify()
{
    QFETCH(QByteArray, json);
    QFETCH(MessageKind, kind);
    QFETCH(QString, requestId);
    QFETCH(QString, method);

    const QJsonObject input = object(json);
    const JsonRpcMessage message = fmb::classify(input);
    QCOMPARE(message.kind, kind);
    QCOMPARE(message.object, input);
    QVERIFY(message.raw.isEmpty());
    if (kind == MessageKind::Invalid) {
        QVERIFY2(!message.invalidReason.isEmpty(), "an Invalid message must say why");
        return;
    }
    QCOMPARE(message.invalidReason, QString());
    QCOMPARE(message.requestId.isNull() ? QString() : message.requestId.toString(), requestId);
    QCOMPARE(message.method, method);
    if (kind != MessageKind::Notification)
        QCOMPARE(message.id, input.value(QLatin1String("id")));
}

void tst_JsonRpc::requestIdFromJson_data()
{
    QTest::addColumn<QByteArray>("id");
    QTest::addColumn<QString>("key"); // the text form; empty: not an id

    QTest::newRow("string") << QByteArray(R"("abc")") << QStringLiteral(R"("abc")");
    QTest::newRow("empty string") << QByteArray(R"("")") << QStringLiteral(R"("")");
    QTest::newRow("string that looks like a number") << QByteArray(R"("1")") << QStringLiteral(R"("1")");
    QTest::newRow("integer") << QByteArray("1") << QStringLiteral("1");
    QTest::newRow("zero") << QByteArray("0") << QStringLiteral("0");
    QTest::newRow("negative integer") << QByteArray("-42") << QStringLiteral("-42");
    QTest::newRow("float 1.0 is integer 1") << QByteArray("1.0") << QStringLiteral("1");
    QTest::newRow("exponent 1e3 is integer 1000") << QByteArray("1e3") << QStringLiteral("1000");
    QTest::newRow("largest safe integer")
        << QByteArray("9007199254740991") << QStringLiteral("9007199254740991");
    QTest::newRow("2^53 is not safe") << QByteArray("9007199254740992") << QString();
    QTest::newRow("fraction") << QByteArray("1.5") << QString();
    QTest::newRow("null") << QByteArray("null") << QString();
    QTest::newRow("true") << QByteArray("true") << QString();
    QTest::newRow("object") << QByteArray(R"({"a":1})") << QString();
    QTest::newRow("array") << QByteArray("[1]") << QString();
    QTest::newRow("undefined (absent)") << QByteArray() << QString();
}

void tst_JsonRpc::requestIdFromJson()
{
    QFETCH(QByteArray, id);
    QFETCH(QString, key);

    const RequestId requestId = RequestId::fromJson(value(id));
    QCOMPARE(requestId.isNull(), key.isEmpty());
    QCOMPARE(requestId.isNull() ? QString() : requestId.toString(), key);
}

void tst_JsonRpc::requestIdRoundTrip_data()
{
    QTest::addColumn<QByteArray>("id");
    QTest::addColumn<QByteArray>("wire"); // what toJson() gives back, as JSON

    QTest::newRow("integer") << QByteArray("42") << QByteArray("42");
    QTest::newRow("negative integer") << QByteArray("-7") << QByteArray("-7");
    QTest::newRow("float 2.0 goes back as 2") << QByteArray("2.0") << QByteArray("2");
    QTest::newRow("largest safe integer") << QByteArray("9007199254740991") << QByteArray("9007199254740991");
    QTest::newRow("string") << QByteArray(R"("abc")") << QByteArray(R"("abc")");
    QTest::newRow("string that looks like a number") << QByteArray(R"("42")") << QByteArray(R"("42")");
    QTest::newRow("empty string") << QByteArray(R"("")") << QByteArray(R"("")");
    QTest::newRow("not an id: fraction") << QByteArray("1.5") << QByteArray("null");
    QTest::newRow("not an id: null") << QByteArray("null") << QByteArray("null");
}

void tst_JsonRpc::requestIdRoundTrip()
{
    QFETCH(QByteArray, id);
    QFETCH(QByteArray, wire);

    const RequestId requestId = RequestId::fromJson(value(id));
    QCOMPARE(show(requestId.toJson()), wire);
    if (!requestId.isNull())
        QCOMPARE(RequestId::fromJson(requestId.toJson()), requestId);
}

void tst_JsonRpc::requestIdTextForms_data()
{
    QTest::addColumn<RequestId>("id");
    QTest::addColumn<QString>("text");    // the value alone, for messages to people
    QTest::addColumn<QString>("logText"); // for logs: string ids quoted

    QTest::newRow("number") << RequestId(7) << QStringLiteral("7") << QStringLiteral("7");
    QTest::newRow("negative number") << RequestId(-3) << QStringLiteral("-3") << QStringLiteral("-3");
    QTest::newRow("string") << RequestId(QStringLiteral("abc")) << QStringLiteral("abc")
                            << QStringLiteral(R"("abc")");
    QTest::newRow("string of digits")
        << RequestId(QStringLiteral("7")) << QStringLiteral("7") << QStringLiteral(R"("7")");
    QTest::newRow("string with a quote and a line break")
        << RequestId(QStringLiteral("a\"b\nc")) << QStringLiteral("a\"b\nc")
        << QStringLiteral(R"("a\"b\nc")");
    QTest::newRow("null") << RequestId() << QString() << QStringLiteral("null");
}

void tst_JsonRpc::requestIdTextForms()
{
    QFETCH(RequestId, id);
    QFETCH(QString, text);
    QFETCH(QString, logText);

    QCOMPARE(id.text(), text);
    QCOMPARE(id.toString(), logText);
}

void tst_JsonRpc::requestIdEqualityAndHash()
{
    const RequestId one = RequestId::fromJson(value("1"));
    QCOMPARE(one, RequestId(1));
    QCOMPARE(RequestId::fromJson(value("1.0")), one);
    QCOMPARE(qHash(RequestId::fromJson(value("1.0"))), qHash(one));
    QVERIFY(one != RequestId(QStringLiteral("1")));
    QVERIFY(one != RequestId());
    QVERIFY(RequestId(QStringLiteral("")) != RequestId());

    // The number 1 and the string "1" are two requests of one session.
    QHash<RequestId, int> pending;
    pending.insert(RequestId(1), 10);
    pending.insert(RequestId(QStringLiteral("1")), 20);
    pending.insert(RequestId::fromJson(value("1.0")), 11);
    QCOMPARE(pending.size(), 2);
    QCOMPARE(pending.value(RequestId(1)), 11);
    QCOMPARE(pending.value(RequestId(QStringLiteral("1"))), 20);
    QCOMPARE(pending.value(RequestId(2), -1), -1);
}

void tst_JsonRpc::requestIdOrder()
{
    // Any strict order does for sorted containers; this one is null, numbers, strings.
    QList<RequestId> ids{RequestId(QStringLiteral("b")), RequestId(2), RequestId(), RequestId(-1),
                         RequestId(QStringLiteral("a"))};
    std::sort(ids.begin(), ids.end());
    QList<QString> texts;
    for (const RequestId &id : std::as_const(ids))
        texts.append(id.toString());
    QCOMPARE(texts, (QList<QString>{QStringLiteral("null"), QStringLiteral("-1"), QStringLiteral("2"),
                                    QStringLiteral(R"("a")"), QStringLiteral(R"("b")")}));
    QVERIFY(!(RequestId(1) < RequestId(1)));
}

void tst_JsonRpc::progressToken_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QByteArray>("token"); // as JSON; "undefined" when absent

    QTest::newRow("request: string token in _meta")
        << QByteArray(
               R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":"t1"}}})")
        << QByteArray(R"("t1")");
    QTest::newRow("request: numeric token in _meta")
        << QByteArray(
               R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":7}}})")
        << QByteArray("7");
    QTest::newRow("request: no params")
        << QByteArray(R"({"jsonrpc":"2.0","id":1,"method":"tools/call"})") << QByteArray("undefined");
    QTest::newRow("request: _meta without token")
        << QByteArray(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{}}})")
        << QByteArray("undefined");
    QTest::newRow("request: token outside _meta is ignored")
        << QByteArray(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"progressToken":"t1"}})")
        << QByteArray("undefined");
    QTest::newRow("notifications/progress: token in params")
        << QByteArray(
               R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t2","progress":1}})")
        << QByteArray(R"("t2")");
    QTest::newRow("notifications/progress: numeric token")
        << QByteArray(R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":9}})")
        << QByteArray("9");
    QTest::newRow("notifications/progress: token in _meta is not its token")
        << QByteArray(
               R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"_meta":{"progressToken":"t"}}})")
        << QByteArray("undefined");
    QTest::newRow("other notification: token ignored")
        << QByteArray(R"({"jsonrpc":"2.0","method":"notifications/message","params":{"progressToken":"t3"}})")
        << QByteArray("undefined");
    QTest::newRow("response: token ignored")
        << QByteArray(R"({"jsonrpc":"2.0","id":1,"result":{"_meta":{"progressToken":"t"}}})")
        << QByteArray("undefined");
}

void tst_JsonRpc::progressToken()
{
    QFETCH(QByteArray, json);
    QFETCH(QByteArray, token);

    const JsonRpcMessage message = fmb::classify(object(json));
    QVERIFY(message.kind != MessageKind::Invalid);
    // JsonRpc.h promises Undefined when absent, but classify() only assigns the token for
    // requests and notifications/progress; other messages keep the default-constructed
    // QJsonValue, which is Null.
    QCOMPARE(show(message.progressToken), token);
}

void tst_JsonRpc::parseBody_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<bool>("batch");
    QTest::addColumn<QString>("kinds");

    QTest::newRow("single request") << QByteArray(R"({"jsonrpc":"2.0","id":1,"method":"ping"})") << false
                                    << QStringLiteral("Request");
    QTest::newRow("single notification")
        << QByteArray(R"({"jsonrpc":"2.0","method":"notifications/initialized"})") << false
        << QStringLiteral("Notification");
    QTest::newRow("single response") << QByteArray(R"({"jsonrpc":"2.0","id":"s1","result":{}})") << false
                                     << QStringLiteral("Response");
    QTest::newRow("single with surrounding whitespace")
        << QByteArray("  \r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n\n") << false
        << QStringLiteral("Request");
    QTest::newRow("batch of one") << QByteArray(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])") << true
                                  << QStringLiteral("Request");
    QTest::newRow("batch of three, order kept")
        << QByteArray(R"([{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":1,"method":"ping"},)"
                      R"({"jsonrpc":"2.0","id":2,"result":{}}])")
        << true << QStringLiteral("Notification,Request,Response");
}

void tst_JsonRpc::parseBody()
{
    QFETCH(QByteArray, body);
    QFETCH(bool, batch);
    QFETCH(QString, kinds);

    const Result<ParsedBody, BodyError> parsed = fmb::parseBody(body);
    QVERIFY2(parsed.ok(), parsed.ok() ? "" : qPrintable(parsed.error().message));
    QCOMPARE(parsed.value().batch, batch);
    QCOMPARE(::kinds(parsed.value().messages), kinds);
}

void tst_JsonRpc::parseBodyError_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("subject");
    QTest::addColumn<QString>("message"); // a part of the error message

    const QString parseError = QString::number(JsonRpcError::ParseError);
    const QString invalidRequest = QString::number(JsonRpcError::InvalidRequest);

    QTest::newRow("not JSON") << QByteArray("hello") << parseError << QStringLiteral("Parse error");
    QTest::newRow("truncated JSON") << QByteArray(R"({"jsonrpc":"2.0","id":1)") << parseError
                                    << QStringLiteral("Parse error");
    QTest::newRow("empty body") << QByteArray() << parseError << QStringLiteral("Parse error");
    QTest::newRow("two objects back to back")
        << QByteArray(R"({"jsonrpc":"2.0","method":"a"}{"jsonrpc":"2.0","method":"b"})") << parseError
        << QStringLiteral("Parse error");
    // JSON, but not a JSON-RPC message: JsonRpc.h promises -32600 here.
    QTest::newRow("not an object: number")
        << QByteArray("42") << invalidRequest << QStringLiteral("not a JSON-RPC message");
    QTest::newRow("not an object: string")
        << QByteArray(R"("ping")") << invalidRequest << QStringLiteral("not a JSON-RPC message");
    QTest::newRow("empty batch") << QByteArray("[]") << invalidRequest << QStringLiteral("empty batch");
    QTest::newRow("batch element is a number") << QByteArray(R"([{"jsonrpc":"2.0","method":"a"},1])")
                                               << invalidRequest << QStringLiteral("not an object");
    QTest::newRow("batch element is an array")
        << QByteArray("[[]]") << invalidRequest << QStringLiteral("not an object");
    QTest::newRow("invalid single message")
        << QByteArray(R"({"jsonrpc":"1.0","id":1,"method":"ping"})") << invalidRequest
        << QStringLiteral("\"jsonrpc\" must be \"2.0\"");
    QTest::newRow("invalid message inside batch")
        << QByteArray(R"([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2}])")
        << invalidRequest << QStringLiteral("exactly one of");
    // Qt's parser lets these through; folding the line break into a space
    // would have handed the child another method (found by fuzz_jsonrpc).
    QTest::newRow("raw line break inside a string")
        << QByteArray("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/\ncall\"}") << parseError
        << QStringLiteral("unescaped control character in a string at offset 40");
    QTest::newRow("raw CR inside a member name")
        << QByteArray("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"par\rams\":{}}") << parseError
        << QStringLiteral("unescaped control character");
    QTest::newRow("raw control character inside a batch element")
        << QByteArray("[{\"jsonrpc\":\"2.0\",\"method\":\"a\tb\"}]") << parseError
        << QStringLiteral("unescaped control character");
    QTest::newRow("byte order mark before the JSON text (issue 11, 5a)")
        << QByteArray("\xEF\xBB\xBF"
                      R"({"jsonrpc":"2.0","id":1,"method":"ping"})")
        << parseError << QStringLiteral("byte order mark (U+FEFF) before the JSON text");
    // Qt drops it, so "<BOM>ping" would be classified as ping (found by fuzz_jsonrpc).
    QTest::newRow("raw byte order mark at the start of a method")
        << QByteArray("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xEF\xBB\xBFping\"}") << parseError
        << QStringLiteral("byte order mark (U+FEFF) at the start of a string at offset 34");
    QTest::newRow("request id fraction inside batch")
        << QByteArray(R"([{"jsonrpc":"2.0","id":1.5,"method":"ping"}])") << invalidRequest
        << QStringLiteral("\"id\" must be a string or an integer");
}

void tst_JsonRpc::parseBodyError()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, subject);
    QFETCH(QString, message);

    const Result<ParsedBody, BodyError> parsed = fmb::parseBody(body);
    QVERIFY(!parsed.ok());
    // Qt 6.4's QJsonDocument::fromJson() rejects a scalar at the top level as "illegal value",
    // so parseBody() answers -32700 and its "not a JSON-RPC message" branch is unreachable.
    QCOMPARE(QString::number(parsed.error().code), subject);
    QVERIFY2(parsed.error().message.contains(message), qPrintable(parsed.error().message));
}

namespace {

QByteArray batchOf(int count, const QByteArray &element)
{
    QByteArrayList elements;
    for (int i = 0; i < count; ++i)
        elements.append(element);
    return '[' + elements.join(',') + ']';
}

QByteArray longString(qsizetype length)
{
    return '"' + QByteArray(length, 'x') + '"';
}

} // namespace

void tst_JsonRpc::parseBodyLimits_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("maxBatchMessages");
    QTest::addColumn<QString>("error"); // empty: accepted

    const QByteArray ping = R"({"jsonrpc":"2.0","method":"notifications/ping"})";
    QTest::newRow("batch at the limit") << batchOf(3, ping) << 3 << QString();
    QTest::newRow("batch over the limit")
        << batchOf(4, ping) << 3 << QStringLiteral("Invalid Request: batch has 4 messages; at most 3");
    QTest::newRow("a single message is no batch") << ping << 1 << QString();
    QTest::newRow("commas and brackets inside strings are no elements")
        << QByteArray(R"([{"jsonrpc":"2.0","method":"a,b],[{\",x"},{"jsonrpc":"2.0","method":"c"}])") << 2
        << QString();
    QTest::newRow("over the limit is refused before parsing")
        << QByteArray(R"([{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"b"},not JSON)") << 2
        << QStringLiteral("Invalid Request: batch has 3 messages; at most 2");
    const QByteArray atLimit = QByteArray::number(MaxIdLength);
    QTest::newRow("string id at the length limit")
        << R"({"jsonrpc":"2.0","method":"ping","id":)" + longString(MaxIdLength) + '}' << 10 << QString();
    QTest::newRow("string id over the length limit")
        << R"({"jsonrpc":"2.0","method":"ping","id":)" + longString(MaxIdLength + 1) + '}' << 10
        << QStringLiteral("Invalid Request: \"id\" is %1 characters long; at most %2")
               .arg(MaxIdLength + 1)
               .arg(MaxIdLength);
    QTest::newRow("response id over the length limit, inside a batch")
        << '[' + ping + R"(,{"jsonrpc":"2.0","result":{},"id":)" + longString(MaxIdLength + 1) + "}]" << 10
        << QStringLiteral("Invalid Request: \"id\" is %1 characters long").arg(MaxIdLength + 1);
    QTest::newRow("progress token over the length limit")
        << R"({"jsonrpc":"2.0","method":"ping","id":1,"params":{"_meta":{"progressToken":)" +
               longString(MaxIdLength + 1) + "}}}"
        << 10
        << QStringLiteral("Invalid Request: progressToken is %1 characters long; at most %2")
               .arg(MaxIdLength + 1)
               .arg(MaxIdLength);
}

void tst_JsonRpc::parseBodyLimits()
{
    QFETCH(QByteArray, body);
    QFETCH(int, maxBatchMessages);
    QFETCH(QString, error);

    const Result<ParsedBody, BodyError> parsed = fmb::parseBody(body, maxBatchMessages);
    if (error.isEmpty()) {
        QVERIFY2(parsed.ok(), qPrintable(parsed.ok() ? QString() : parsed.error().message));
        return;
    }
    QVERIFY(!parsed.ok());
    QCOMPARE(parsed.error().code, JsonRpcError::InvalidRequest);
    QVERIFY2(parsed.error().message.startsWith(error), qPrintable(parsed.error().message));
}

void tst_JsonRpc::parseBodyRefusesHugeBatchByDefault()
{
    // Issue 11: one POST of 30,000 requests held the event loop for seconds.
    const QByteArray body = batchOf(30000, R"({"jsonrpc":"2.0","id":1,"method":"resources/subscribe"})");
    const Result<ParsedBody, BodyError> parsed = fmb::parseBody(body);
    QVERIFY(!parsed.ok());
    QCOMPARE(
        parsed.error().message,
        QStringLiteral("Invalid Request: batch has 30000 messages; at most %1").arg(DefaultMaxBatchMessages));
}

void tst_JsonRpc::parseBodyRawIsOneLine_data()
{
    QTest::addColumn<QByteArray>("body");

    const QJsonObject request = object(
        R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"text":"a\nb"}}})");
    QTest::newRow("pretty-printed (LF)") << QJsonDocument(request).toJson(QJsonDocument::Indented);
    QTest::newRow("pretty-printed (CRLF)")
        << QJsonDocument(request).toJson(QJsonDocument::Indented).replace("\n", "\r\n");
    QTest::newRow("compact with trailing newline")
        << QJsonDocument(request).toJson(QJsonDocument::Compact) + '\n';
}

void tst_JsonRpc::parseBodyRawIsOneLine()
{
    QFETCH(QByteArray, body);

    const Result<ParsedBody, BodyError> parsed = fmb::parseBody(body);
    QVERIFY(parsed.ok());
    QCOMPARE(parsed.value().messages.size(), 1);
    const JsonRpcMessage &message = parsed.value().messages.first();
    QVERIFY(!message.raw.isEmpty());
    QVERIFY2(!message.raw.contains('\n'), message.raw.constData());
    QVERIFY2(!message.raw.contains('\r'), message.raw.constData());
    QCOMPARE(message.line(), message.raw);
    // The escaped "\n" inside the string survives folding.
    QCOMPARE(QJsonDocument::fromJson(message.raw).object(), QJsonDocument::fromJson(body).object());
    QCOMPARE(QJsonDocument::fromJson(message.raw).object(), message.object);
}

void tst_JsonRpc::parseBodyBatchHasNoRaw()
{
    // Batch elements are re-encoded one by one: each line() is that element alone.
    const Result<ParsedBody, BodyError> parsed =
        fmb::parseBody(QByteArray("[\n {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"},\n"
                                  " {\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"b\"}\n]"));
    QVERIFY(parsed.ok());
    QCOMPARE(parsed.value().messages.size(), 2);
    QCOMPARE(parsed.value().messages.at(0).line(), QByteArray(R"({"id":1,"jsonrpc":"2.0","method":"a"})"));
    QCOMPARE(parsed.value().messages.at(1).line(), QByteArray(R"({"id":2,"jsonrpc":"2.0","method":"b"})"));
}

void tst_JsonRpc::parseLine_data()
{
    QTest::addColumn<QByteArray>("line");
    QTest::addColumn<MessageKind>("kind");
    QTest::addColumn<QString>("reason"); // a part of invalidReason

    QTest::newRow("request") << QByteArray(R"({"jsonrpc":"2.0","id":1,"method":"ping"})")
                             << MessageKind::Request << QString();
    QTest::newRow("response") << QByteArray(R"({"jsonrpc":"2.0","id":1,"result":{"tools":[]}})")
                              << MessageKind::Response << QString();
    QTest::newRow("notification with spaces")
        << QByteArray(R"( { "jsonrpc" : "2.0", "method" : "x" } )") << MessageKind::Notification << QString();
    QTest::newRow("not JSON") << QByteArray("Starting server on stdio...") << MessageKind::Invalid
                              << QStringLiteral("not JSON");
    QTest::newRow("empty") << QByteArray() << MessageKind::Invalid << QStringLiteral("not JSON");
    QTest::newRow("array") << QByteArray(R"([{"jsonrpc":"2.0","method":"x"}])") << MessageKind::Invalid
                           << QStringLiteral("not a JSON object");
    QTest::newRow("object but not JSON-RPC")
        << QByteArray(R"({"hello":"world"})") << MessageKind::Invalid << QStringLiteral("\"jsonrpc\"");
}

void tst_JsonRpc::parseLine()
{
    QFETCH(QByteArray, line);
    QFETCH(MessageKind, kind);
    QFETCH(QString, reason);

    const JsonRpcMessage message = fmb::parseLine(line);
    QCOMPARE(message.kind, kind);
    QVERIFY2(message.invalidReason.contains(reason), qPrintable(message.invalidReason));
    if (kind == MessageKind::Invalid) {
        QVERIFY(!message.invalidReason.isEmpty());
    } else {
        QCOMPARE(message.invalidReason, QString());
        QCOMPARE(message.raw, line); // forwarded byte for byte
        QCOMPARE(message.line(), line);
        QCOMPARE(message.object, QJsonDocument::fromJson(line).object());
    }
}

void tst_JsonRpc::makeErrorResponse_data()
{
    QTest::addColumn<QByteArray>("id");
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("integer id") << QByteArray("5")
                                << QByteArray(R"({"error":{"code":-32601,"message":"Method not found"},)"
                                              R"("id":5,"jsonrpc":"2.0"})");
    QTest::newRow("string id") << QByteArray(R"("a-1")")
                               << QByteArray(R"({"error":{"code":-32601,"message":"Method not found"},)"
                                             R"("id":"a-1","jsonrpc":"2.0"})");
    QTest::newRow("null id") << QByteArray("null")
                             << QByteArray(R"({"error":{"code":-32601,"message":"Method not found"},)"
                                           R"("id":null,"jsonrpc":"2.0"})");
    QTest::newRow("undefined id becomes null")
        << QByteArray()
        << QByteArray(R"({"error":{"code":-32601,"message":)"
                      R"("Method not found"},"id":null,"jsonrpc":"2.0"})");
}

void tst_JsonRpc::makeErrorResponse()
{
    QFETCH(QByteArray, id);
    QFETCH(QByteArray, expected);

    const QJsonObject response =
        fmb::makeErrorResponse(value(id), JsonRpcError::MethodNotFound, QStringLiteral("Method not found"));
    QCOMPARE(encode(response), expected);
    // What we send must itself be a valid error response.
    const JsonRpcMessage message = fmb::classify(response);
    QCOMPARE(message.kind, MessageKind::Response);
}

void tst_JsonRpc::errorResponseWithData()
{
    const QJsonObject data{{QStringLiteral("requested"), QStringLiteral("1999-01-01")}};
    QCOMPARE(encode(fmb::makeErrorResponse(QJsonValue(7), JsonRpcError::UnsupportedProtocolVersion,
                                           QStringLiteral("Unsupported protocol version"), data)),
             QByteArray(R"({"error":{"code":-32022,"data":{"requested":"1999-01-01"},)"
                        R"("message":"Unsupported protocol version"},"id":7,"jsonrpc":"2.0"})"));
    // No data: the member is left out, as without the argument.
    QCOMPARE(encode(fmb::makeErrorResponse(QJsonValue(7), JsonRpcError::HeaderMismatch, QStringLiteral("x"),
                                           QJsonValue(QJsonValue::Undefined))),
             QByteArray(R"({"error":{"code":-32020,"message":"x"},"id":7,"jsonrpc":"2.0"})"));
}

void tst_JsonRpc::line_data()
{
    QTest::addColumn<QByteArray>("raw");
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("no raw: compact encoding")
        << QByteArray() << QByteArray(R"({"id":1,"jsonrpc":"2.0","method":"ping"})");
    QTest::newRow("raw kept as is") << QByteArray(R"({ "method":"ping", "id":1, "jsonrpc":"2.0" })")
                                    << QByteArray(R"({ "method":"ping", "id":1, "jsonrpc":"2.0" })");
}

void tst_JsonRpc::line()
{
    QFETCH(QByteArray, raw);
    QFETCH(QByteArray, expected);

    JsonRpcMessage message = fmb::classify(object(R"({"jsonrpc":"2.0","id":1,"method":"ping"})"));
    message.raw = raw;
    QCOMPARE(message.line(), expected);
    QVERIFY(!message.line().contains('\n'));
}

QTEST_GUILESS_MAIN(tst_JsonRpc)
#include "tst_jsonrpc.moc"
