// The 2026-07-28 request validator (core/revision): the input's first three
// lines are the MCP-Protocol-Version, Mcp-Method and Mcp-Name header values,
// the rest the POST body. An accepted request says what its headers say and
// carries what _meta must; a refusal has its kind's code, a message, the
// request's id (or null) and data exactly when it is -32022, whose requested
// revision is the body's claim or the header's; a claim of another revision
// is always refused as one; a mirrored header that decodes, encoded again,
// decodes to the same text.
#include <QJsonArray>

#include "FuzzSupport.h"
#include "revision/StatelessRequest.h"

using namespace fmb;

namespace {

const QStringList Supported{QStringLiteral("2025-11-25"), QStringLiteral("2025-06-18")};

void checkDecode(QByteArrayView value)
{
    const std::optional<QString> decoded = decodeMirroredHeader(value);
    if (!decoded)
        return;
    const QByteArray again = "=?base64?" + decoded->toUtf8().toBase64() + "?=";
    const std::optional<QString> reread = decodeMirroredHeader(again);
    FMB_FUZZ_CHECK(reread && *reread == *decoded);
}

void checkAccepted(const StatelessHeaders &headers, const JsonRpcMessage &message,
                   const StatelessRequest &request)
{
    FMB_FUZZ_CHECK(request.method == message.method);
    FMB_FUZZ_CHECK(headers.method == request.method.toUtf8());
    FMB_FUZZ_CHECK(request.protocolVersion == McpRevision::Stateless);
    FMB_FUZZ_CHECK(headers.protocolVersion == request.protocolVersion.toUtf8());
    FMB_FUZZ_CHECK(!request.requestId.isNull() && request.id == message.id);
    const QJsonObject meta =
        message.object.value(QLatin1String("params")).toObject().value(QLatin1String("_meta")).toObject();
    FMB_FUZZ_CHECK(meta.value(McpMeta::ClientCapabilities).isObject());
    FMB_FUZZ_CHECK(request.meta == meta);
    if (!request.name.isEmpty())
        FMB_FUZZ_CHECK(decodeMirroredHeader(headers.name) == request.name);
}

void checkRefused(const StatelessHeaders &headers, const ParsedBody &body, const StatelessFailure &failure)
{
    FMB_FUZZ_CHECK(failure.code == rpcCodeOf(failure.kind));
    FMB_FUZZ_CHECK(!failure.message.isEmpty());
    const bool single = !body.batch && body.messages.size() == 1;
    FMB_FUZZ_CHECK(failure.id.isNull() || (single && failure.id == body.messages.constFirst().id));
    FMB_FUZZ_CHECK(failure.data.isUndefined() == (failure.kind != StatelessFailureKind::UnsupportedVersion));
    if (failure.kind != StatelessFailureKind::UnsupportedVersion)
        return;
    const QJsonObject data = failure.data.toObject();
    FMB_FUZZ_CHECK(data.value(QLatin1String("supported")).toArray() == QJsonArray::fromStringList(Supported));
    const QString requested = data.value(QLatin1String("requested")).toString();
    FMB_FUZZ_CHECK(!requested.isEmpty() && requested != McpRevision::Stateless);
    const QJsonValue claim = body.messages.constFirst()
                                 .object.value(QLatin1String("params"))
                                 .toObject()
                                 .value(QLatin1String("_meta"))
                                 .toObject()
                                 .value(McpMeta::ProtocolVersion);
    FMB_FUZZ_CHECK(requested ==
                   (claim.isString() ? claim.toString() : QString::fromUtf8(headers.protocolVersion)));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    QByteArrayView input(data, qsizetype(size));
    QByteArray fields[3];
    for (QByteArray &field : fields) {
        const qsizetype end = input.indexOf('\n');
        field = (end < 0 ? input : input.first(end)).toByteArray();
        input = end < 0 ? QByteArrayView() : input.sliced(end + 1);
    }
    const StatelessHeaders headers{fields[0], fields[1], fields[2]};
    checkDecode(fields[2]);

    const Result<ParsedBody, BodyError> body = parseBody(input);
    if (!body.ok())
        return 0;
    FMB_FUZZ_CHECK(!isStatelessPost(headers, true, body.value().messages));
    const Result<StatelessRequest, StatelessFailure> result =
        parseStatelessRequest(headers, body.value(), Supported);
    if (result.ok()) {
        FMB_FUZZ_CHECK(!body.value().batch && body.value().messages.size() == 1);
        checkAccepted(headers, body.value().messages.constFirst(), result.value());
    } else {
        checkRefused(headers, body.value(), result.error());
    }
    // A claim of any other revision is refused as one, before anything else.
    const ParsedBody &parsed = body.value();
    if (!parsed.batch && parsed.messages.size() == 1 &&
        parsed.messages.constFirst().kind == MessageKind::Request) {
        const QJsonValue claim = parsed.messages.constFirst()
                                     .object.value(QLatin1String("params"))
                                     .toObject()
                                     .value(QLatin1String("_meta"))
                                     .toObject()
                                     .value(McpMeta::ProtocolVersion);
        if (claim.isString() && !claim.toString().isEmpty() && claim.toString() != McpRevision::Stateless)
            FMB_FUZZ_CHECK(!result.ok() && result.error().kind == StatelessFailureKind::UnsupportedVersion);
    }
    return 0;
}
