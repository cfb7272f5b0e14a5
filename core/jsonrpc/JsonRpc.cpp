#include "JsonRpc.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>

namespace fmb {
namespace {

JsonRpcMessage invalid(const QJsonObject &object, const QString &reason)
{
    JsonRpcMessage message;
    message.object = object;
    message.invalidReason = reason;
    return message;
}

// Qt's parser takes control characters (U+0000..U+001F) inside strings as
// they are; RFC 8259 §7 says they must be escaped, and the line framing below
// relies on it. Returns the offset of the first raw one, or -1.
qsizetype rawControlInString(QByteArrayView json)
{
    bool inString = false;
    for (qsizetype i = 0; i < json.size(); ++i) {
        const auto c = static_cast<unsigned char>(json[i]);
        if (!inString) {
            inString = c == '"';
        } else if (c < 0x20) {
            return i;
        } else if (c == '"') {
            inString = false;
        } else if (c == '\\') {
            ++i; // the escaped character: a raw control character there is no valid escape either
            if (i < json.size() && static_cast<unsigned char>(json[i]) < 0x20)
                return i;
        }
    }
    return -1;
}

// The commas between the elements of a top-level JSON array. A scan with no
// allocation: an oversized batch is refused before Qt builds a document of it
// (issue 11: that alone held the event loop for a tenth of a second).
qsizetype topLevelCommas(QByteArrayView json)
{
    int depth = 0;
    bool inString = false;
    qsizetype commas = 0;
    for (qsizetype i = 0; i < json.size(); ++i) {
        const char c = json[i];
        if (inString) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                inString = false;
            continue;
        }
        if (c == '"')
            inString = true;
        else if (c == '[' || c == '{')
            ++depth;
        else if (c == ']' || c == '}')
            --depth;
        else if (c == ',' && depth == 1)
            ++commas;
    }
    return commas;
}

BodyError invalidRequest(const QString &reason)
{
    return BodyError{JsonRpcError::InvalidRequest, QLatin1String("Invalid Request: ") + reason};
}

// Why a message's id or progress token is too long to keep, or empty.
QString overlongKey(const JsonRpcMessage &message)
{
    const auto tooLong = [](const QJsonValue &value) {
        return value.isString() && value.toString().size() > MaxIdLength;
    };
    const auto describe = [](const QString &what, const QJsonValue &value) {
        return QStringLiteral("%1 is %2 characters long; at most %3")
            .arg(what)
            .arg(value.toString().size())
            .arg(MaxIdLength);
    };
    if (tooLong(message.id))
        return describe(QStringLiteral("\"id\""), message.id);
    if (tooLong(message.progressToken))
        return describe(QStringLiteral("progressToken"), message.progressToken);
    return {};
}

} // namespace

QByteArray JsonRpcMessage::line() const
{
    return raw.isEmpty() ? encode(object) : raw;
}

JsonRpcMessage classify(const QJsonObject &object)
{
    if (object.value(QLatin1String("jsonrpc")).toString() != QLatin1String("2.0"))
        return invalid(object, QStringLiteral("\"jsonrpc\" must be \"2.0\""));

    const QJsonValue method = object.value(QLatin1String("method"));
    const bool hasId = object.contains(QLatin1String("id"));
    JsonRpcMessage message;
    message.object = object;

    if (!method.isUndefined()) {
        if (!method.isString() || method.toString().isEmpty())
            return invalid(object, QStringLiteral("\"method\" must be a non-empty string"));
        message.method = method.toString();
        const QJsonObject params = object.value(QLatin1String("params")).toObject();
        if (hasId) {
            message.kind = MessageKind::Request;
            message.id = object.value(QLatin1String("id"));
            message.requestId = RequestId::fromJson(message.id);
            if (message.requestId.isNull())
                return invalid(object, QStringLiteral("\"id\" must be a string or an integer"));
            message.progressToken =
                params.value(QLatin1String("_meta")).toObject().value(QLatin1String("progressToken"));
        } else {
            message.kind = MessageKind::Notification;
            if (message.method == QLatin1String("notifications/progress"))
                message.progressToken = params.value(QLatin1String("progressToken"));
        }
        return message;
    }

    const bool hasResult = object.contains(QLatin1String("result"));
    const bool hasError = object.contains(QLatin1String("error"));
    if (hasResult == hasError)
        return invalid(object, QStringLiteral("a response has exactly one of \"result\" and \"error\""));
    if (!hasId)
        return invalid(object, QStringLiteral("a response needs an \"id\""));
    message.kind = MessageKind::Response;
    message.id = object.value(QLatin1String("id"));
    message.requestId = RequestId::fromJson(message.id);
    // An error response may carry id null when the request could not be read.
    if (message.requestId.isNull() && !(hasError && message.id.isNull()))
        return invalid(object, QStringLiteral("\"id\" must be a string or an integer"));
    return message;
}

JsonRpcMessage parseLine(QByteArrayView line)
{
    QJsonParseError error{};
    const QJsonDocument document = QJsonDocument::fromJson(line.toByteArray(), &error);
    if (error.error != QJsonParseError::NoError)
        return invalid(
            {}, QStringLiteral("not JSON: %1 at offset %2").arg(error.errorString()).arg(error.offset));
    if (!document.isObject())
        return invalid({}, QStringLiteral("not a JSON object"));
    JsonRpcMessage message = classify(document.object());
    message.raw = line.toByteArray();
    return message;
}

Result<ParsedBody, BodyError> parseBody(QByteArrayView body, int maxBatchMessages)
{
    // Qt skips a UTF-8 byte order mark before the JSON text, but the body goes
    // to the child raw, and a strict parser there (Go's) chokes on it with an
    // error the broker cannot route: the POST would hang (issue 11, 5a).
    // RFC 8259 §8.1 lets a parser refuse it.
    if (body.startsWith("\xEF\xBB\xBF")) {
        return BodyError{JsonRpcError::ParseError,
                         QStringLiteral("Parse error: a byte order mark (U+FEFF) before the JSON text")};
    }
    if (const QByteArrayView trimmed = body.trimmed(); trimmed.startsWith('[')) {
        const qsizetype elements = topLevelCommas(trimmed) + 1;
        if (elements > maxBatchMessages) {
            return invalidRequest(
                QStringLiteral("batch has %1 messages; at most %2").arg(elements).arg(maxBatchMessages));
        }
    }
    QJsonParseError error{};
    const QJsonDocument document = QJsonDocument::fromJson(body.toByteArray(), &error);
    if (error.error != QJsonParseError::NoError) {
        // Qt parses only objects and arrays at the top level; a lone scalar is
        // valid JSON but not a JSON-RPC message (-32600, not -32700).
        QJsonParseError wrapped{};
        (void)QJsonDocument::fromJson('[' + body.toByteArray() + ']', &wrapped);
        if (!body.trimmed().isEmpty() && wrapped.error == QJsonParseError::NoError) {
            return BodyError{JsonRpcError::InvalidRequest,
                             QStringLiteral("Invalid Request: body is not a JSON-RPC message")};
        }
        return BodyError{
            JsonRpcError::ParseError,
            QStringLiteral("Parse error: %1 at offset %2").arg(error.errorString()).arg(error.offset)};
    }
    if (const qsizetype offset = rawControlInString(body); offset >= 0) {
        return BodyError{
            JsonRpcError::ParseError,
            QStringLiteral("Parse error: unescaped control character in a string at offset %1").arg(offset)};
    }
    // Qt 6.4 drops a raw U+FEFF at the start of a string, so the broker would
    // classify a name the child never sees ("\uFEFF" escaped is kept).
    if (const qsizetype offset = body.indexOf("\"\xEF\xBB\xBF"); offset >= 0) {
        return BodyError{JsonRpcError::ParseError,
                         QStringLiteral("Parse error: a byte order mark (U+FEFF) at the start of a string at "
                                        "offset %1")
                             .arg(offset + 1)};
    }
    ParsedBody parsed;
    if (document.isObject()) {
        JsonRpcMessage message = classify(document.object());
        // JSON strings cannot hold raw line breaks, so outside them they are
        // whitespace: folding them keeps the client's bytes and frames one line.
        message.raw = body.toByteArray().trimmed();
        message.raw.replace('\n', ' ').replace('\r', ' ');
        parsed.messages.append(message);
    } else if (document.isArray()) {
        const QJsonArray array = document.array();
        if (array.isEmpty()) {
            return BodyError{JsonRpcError::InvalidRequest, QStringLiteral("Invalid Request: empty batch")};
        }
        if (array.size() > maxBatchMessages) {
            return invalidRequest(
                QStringLiteral("batch has %1 messages; at most %2").arg(array.size()).arg(maxBatchMessages));
        }
        parsed.batch = true;
        parsed.messages.reserve(array.size());
        for (const QJsonValue &element : array) {
            if (!element.isObject()) {
                return BodyError{JsonRpcError::InvalidRequest,
                                 QStringLiteral("Invalid Request: batch element is not an object")};
            }
            parsed.messages.append(classify(element.toObject()));
        }
    } else {
        return BodyError{JsonRpcError::InvalidRequest,
                         QStringLiteral("Invalid Request: body is not a JSON-RPC message")};
    }
    for (const JsonRpcMessage &message : std::as_const(parsed.messages)) {
        if (message.kind == MessageKind::Invalid)
            return invalidRequest(message.invalidReason);
        if (const QString reason = overlongKey(message); !reason.isEmpty())
            return invalidRequest(reason);
    }
    return parsed;
}

QJsonObject makeErrorResponse(const QJsonValue &id, int code, const QString &message)
{
    return QJsonObject{
        {QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
        {QStringLiteral("id"), id.isUndefined() ? QJsonValue(QJsonValue::Null) : id},
        {QStringLiteral("error"),
         QJsonObject{{QStringLiteral("code"), code}, {QStringLiteral("message"), message}}},
    };
}

QJsonObject makeErrorResponse(const QJsonValue &id, int code, const QString &message, const QJsonValue &data)
{
    QJsonObject response = makeErrorResponse(id, code, message);
    if (!data.isUndefined()) {
        QJsonObject error = response.value(QLatin1String("error")).toObject();
        error.insert(QLatin1String("data"), data);
        response.insert(QLatin1String("error"), error);
    }
    return response;
}

QByteArray encode(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

} // namespace fmb
