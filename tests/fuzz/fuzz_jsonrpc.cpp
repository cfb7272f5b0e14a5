// The JSON-RPC classifier (core/jsonrpc): a verdict is consistent with the
// message it describes and survives re-serialisation (compact or indented);
// what the broker would write to a child's stdin is one line that reads back
// as the same message; a body that fails carries -32700 or -32600.
#include <QJsonDocument>
#include <QJsonObject>

#include "FuzzSupport.h"
#include "jsonrpc/JsonRpc.h"

using namespace fmb;

namespace {

void checkConsistent(const JsonRpcMessage &message)
{
    const QJsonObject &object = message.object;
    switch (message.kind) {
    case MessageKind::Invalid:
        FMB_FUZZ_CHECK(!message.invalidReason.isEmpty());
        return;
    case MessageKind::Request:
        FMB_FUZZ_CHECK(!message.method.isEmpty());
        FMB_FUZZ_CHECK(!message.requestId.isNull());
        FMB_FUZZ_CHECK(object.value(QLatin1String("id")) == message.id);
        break;
    case MessageKind::Notification:
        FMB_FUZZ_CHECK(!message.method.isEmpty());
        FMB_FUZZ_CHECK(!object.contains(QLatin1String("id")));
        FMB_FUZZ_CHECK(message.requestId.isNull());
        break;
    case MessageKind::Response:
        FMB_FUZZ_CHECK(message.method.isEmpty());
        FMB_FUZZ_CHECK(object.contains(QLatin1String("result")) != object.contains(QLatin1String("error")));
        FMB_FUZZ_CHECK(!message.requestId.isNull() || message.id.isNull());
        break;
    }
    FMB_FUZZ_CHECK(message.invalidReason.isEmpty());
    FMB_FUZZ_CHECK(object.value(QLatin1String("jsonrpc")) == QJsonValue(QStringLiteral("2.0")));
    FMB_FUZZ_CHECK(message.requestId.isNull() || RequestId::fromJson(message.id) == message.requestId);
}

void checkSameVerdict(const JsonRpcMessage &a, const JsonRpcMessage &b)
{
    FMB_FUZZ_CHECK(a.kind == b.kind);
    FMB_FUZZ_CHECK(a.requestId == b.requestId);
    FMB_FUZZ_CHECK(a.id == b.id);
    FMB_FUZZ_CHECK(a.method == b.method);
    FMB_FUZZ_CHECK(a.progressToken == b.progressToken);
    // Compared as JSON text: Qt 6.4's QJsonObject::operator== can tell apart
    // equal strings that it stores in different encodings.
    FMB_FUZZ_CHECK(encode(a.object) == encode(b.object));
}

// What goes to the child: one line, no newline in it, meaning the same.
void checkForwardable(const JsonRpcMessage &message)
{
    const QByteArray line = message.line();
    FMB_FUZZ_CHECK(!line.contains('\n'));
    const JsonRpcMessage reread = parseLine(line);
    checkConsistent(reread);
    checkSameVerdict(message, reread);
}

void checkLine(QByteArrayView input, bool reencodes)
{
    const JsonRpcMessage message = parseLine(input);
    checkConsistent(message);
    if (message.kind == MessageKind::Invalid)
        return;
    FMB_FUZZ_CHECK(message.raw == input);
    checkSameVerdict(message, classify(message.object));
    if (!reencodes)
        return;

    const JsonRpcMessage compact = parseLine(encode(message.object));
    checkConsistent(compact);
    checkSameVerdict(message, compact);

    // Indented JSON spans lines: as a POST body it must still reach the child
    // as one line that says the same.
    const Result<ParsedBody, BodyError> body =
        parseBody(QJsonDocument(message.object).toJson(QJsonDocument::Indented));
    FMB_FUZZ_CHECK(body.ok());
    const ParsedBody &parsed = body.value();
    FMB_FUZZ_CHECK(!parsed.batch && parsed.messages.size() == 1);
    checkSameVerdict(message, parsed.messages.constFirst());
    checkForwardable(parsed.messages.constFirst());
}

void checkBody(QByteArrayView input, bool reencodes)
{
    const Result<ParsedBody, BodyError> body = parseBody(input);
    if (!body.ok()) {
        const int code = body.error().code;
        FMB_FUZZ_CHECK(code == JsonRpcError::ParseError || code == JsonRpcError::InvalidRequest);
        return;
    }
    const ParsedBody &parsed = body.value();
    FMB_FUZZ_CHECK(!parsed.messages.isEmpty());
    FMB_FUZZ_CHECK(parsed.batch || parsed.messages.size() == 1);
    for (const JsonRpcMessage &message : parsed.messages) {
        FMB_FUZZ_CHECK(message.kind != MessageKind::Invalid);
        checkConsistent(message);
        FMB_FUZZ_CHECK(!message.line().contains('\n'));
        if (reencodes)
            checkForwardable(message);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const QByteArrayView input(data, qsizetype(size));
    // Qt 6.4 drops a raw U+FEFF at the start of a string but sorts a member by
    // its name with the BOM, so such objects do not re-encode to the same text
    // (docs/fuzzing.md, "Findings so far"): only their verdicts are checked.
    const bool reencodes = !input.contains("\"\xEF\xBB\xBF");
    checkLine(input, reencodes);
    checkBody(input, reencodes);
    return 0;
}
