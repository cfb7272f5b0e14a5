// The admin protocol (core/admin/AdminProtocol), as the server reads it: the
// line reader, whatever the chunking, hands on the lines a one-pass model
// predicts and none over its limit, and stops at the first line that is; a
// request the parser accepts, encoded again, parses to the same request; a
// refusal names a known error code; replies and errors read back as sent.
#include <fuzzer/FuzzedDataProvider.h>

#include <QJsonArray>

#include "FuzzSupport.h"
#include "admin/AdminProtocol.h"

using namespace fmb;

namespace {

struct Lines {
    QByteArrayList lines;
    bool overflow = false;
    friend bool operator==(const Lines &, const Lines &) = default;
};

// A line (or the unfinished rest) over the limit, '\r' included, ends the
// stream there; before that, lines lose one trailing '\r' and empty ones are skipped.
Lines model(QByteArrayView stream, qsizetype limit)
{
    Lines out;
    qsizetype start = 0;
    while (start < stream.size()) {
        const qsizetype newline = stream.indexOf('\n', start);
        QByteArrayView line = stream.sliced(start, (newline < 0 ? stream.size() : newline) - start);
        if (line.size() > limit) {
            out.overflow = true;
            break;
        }
        if (newline < 0)
            break;
        start = newline + 1;
        if (line.endsWith('\r'))
            line.chop(1);
        if (!line.isEmpty())
            out.lines.append(line.toByteArray());
    }
    return out;
}

Lines read(AdminLineReader &reader, const QList<QByteArrayView> &pieces, qsizetype limit)
{
    Lines out;
    for (QByteArrayView piece : pieces) {
        const AdminLineReader::Chunk chunk = reader.feed(piece);
        FMB_FUZZ_CHECK(!(chunk.overflow && out.overflow)); // reported once
        out.lines += chunk.lines;
        out.overflow = out.overflow || chunk.overflow;
        FMB_FUZZ_CHECK(reader.overflowed() == out.overflow);
        FMB_FUZZ_CHECK(reader.buffered() <= limit);
    }
    for (const QByteArray &line : std::as_const(out.lines)) {
        FMB_FUZZ_CHECK(!line.isEmpty());
        FMB_FUZZ_CHECK(line.size() <= limit);
        FMB_FUZZ_CHECK(!line.contains('\n'));
    }
    return out;
}

QJsonObject fieldsOf(const AdminRequest &request)
{
    if (request.command != AdminCommand::Evict)
        return {};
    if (request.all)
        return {{QStringLiteral("all"), true}};
    if (!request.user.isEmpty())
        return {{QStringLiteral("user"), request.user}};
    return {{QStringLiteral("sessions"), QJsonArray::fromStringList(request.sessions)}};
}

void checkSameRequest(const AdminRequest &a, const AdminRequest &b)
{
    FMB_FUZZ_CHECK(a.id == b.id);
    FMB_FUZZ_CHECK(a.command == b.command);
    FMB_FUZZ_CHECK(a.sessions == b.sessions);
    FMB_FUZZ_CHECK(a.user == b.user);
    FMB_FUZZ_CHECK(a.all == b.all);
}

// What a reply or event line carries comes back to the client unchanged.
void checkReply(const QJsonValue &id, const QByteArray &line, AdminMessage::Kind kind)
{
    FMB_FUZZ_CHECK(line.endsWith('\n') && line.indexOf('\n') == line.size() - 1);
    const AdminMessage message = parseAdminMessage(QByteArrayView(line).chopped(1));
    FMB_FUZZ_CHECK(message.kind == kind);
    if (kind == AdminMessage::Kind::Reply)
        FMB_FUZZ_CHECK(message.id == id);
}

void checkRequest(QByteArrayView line)
{
    const ParsedAdminRequest parsed = parseAdminRequest(line);
    const AdminRequest &request = parsed.request;
    FMB_FUZZ_CHECK(request.id.isNull() || request.id.isString() || request.id.isDouble());
    if (!parsed.ok()) {
        const QString &code = parsed.problem.code;
        FMB_FUZZ_CHECK(code == AdminErrorCode::BadJson || code == AdminErrorCode::BadRequest ||
                       code == AdminErrorCode::MissingField || code == AdminErrorCode::UnsupportedVersion ||
                       code == AdminErrorCode::UnknownCommand);
        FMB_FUZZ_CHECK(!parsed.problem.message.isEmpty());
        const QByteArray error = encodeAdminError(request.id, code, parsed.problem.message);
        checkReply(request.id, error, AdminMessage::Kind::Reply);
        const AdminMessage message = parseAdminMessage(QByteArrayView(error).chopped(1));
        FMB_FUZZ_CHECK(!message.ok && message.error.code == code &&
                       message.error.message == parsed.problem.message);
        return;
    }

    if (request.command == AdminCommand::Evict) {
        const int selectors =
            int(!request.sessions.isEmpty()) + int(!request.user.isEmpty()) + int(request.all);
        FMB_FUZZ_CHECK(selectors == 1);
        for (const QString &session : request.sessions)
            FMB_FUZZ_CHECK(!session.isEmpty());
    } else {
        FMB_FUZZ_CHECK(request.sessions.isEmpty() && request.user.isEmpty() && !request.all);
    }

    const QByteArray again =
        encodeAdminRequest(request.id, adminCommandName(request.command), fieldsOf(request));
    FMB_FUZZ_CHECK(again.endsWith('\n') && again.indexOf('\n') == again.size() - 1);
    const ParsedAdminRequest reparsed = parseAdminRequest(QByteArrayView(again).chopped(1));
    FMB_FUZZ_CHECK(reparsed.ok());
    checkSameRequest(request, reparsed.request);

    checkReply(request.id, encodeAdminResult(request.id, QJsonObject()), AdminMessage::Kind::Reply);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    FuzzedDataProvider provider(data, size);
    // Mostly a small limit, so that short inputs reach the overflow path.
    const qsizetype limit =
        provider.ConsumeBool() ? AdminMaxLineBytes : provider.ConsumeIntegralInRange<qsizetype>(1, 300);
    const auto seed = provider.ConsumeIntegral<std::uint32_t>();
    const std::vector<char> bytes = provider.ConsumeRemainingBytes<char>();
    const QByteArrayView stream(bytes.data(), qsizetype(bytes.size()));

    const Lines expected = model(stream, limit);
    AdminLineReader whole(limit);
    FMB_FUZZ_CHECK(read(whole, {stream}, limit) == expected);
    AdminLineReader pieces(limit);
    FMB_FUZZ_CHECK(read(pieces, fmb::fuzz::chunked(stream, seed), limit) == expected);
    // Once over the limit, the reader takes nothing more.
    if (expected.overflow) {
        const AdminLineReader::Chunk after = pieces.feed("{\"v\":1,\"cmd\":\"list\"}\n");
        FMB_FUZZ_CHECK(after.lines.isEmpty() && !after.overflow);
    }

    for (const QByteArray &line : expected.lines)
        checkRequest(line);
    return 0;
}
