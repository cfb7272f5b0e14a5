#include "SseEncoder.h"

namespace fmb::Sse {
namespace {

// An id may not hold line breaks or NUL (the parser would split or ignore it).
QByteArray sanitizeField(QByteArrayView value)
{
    QByteArray out;
    out.reserve(value.size());
    for (char c : value) {
        if (c != '\n' && c != '\r' && c != '\0')
            out.append(c);
    }
    return out;
}

} // namespace

QByteArray event(QByteArrayView id, QByteArrayView data, int retryMs)
{
    QByteArray out;
    out.reserve(data.size() + id.size() + 32);
    const QByteArray cleanId = sanitizeField(id);
    if (!cleanId.isEmpty())
        out.append("id: ").append(cleanId).append('\n');
    if (retryMs >= 0)
        out.append("retry: ").append(QByteArray::number(retryMs)).append('\n');
    qsizetype start = 0;
    for (;;) {
        qsizetype end = start;
        while (end < data.size() && data[end] != '\n' && data[end] != '\r')
            ++end;
        out.append("data: ").append(data.sliced(start, end - start)).append('\n');
        if (end >= data.size())
            break;
        if (data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n')
            ++end;
        start = end + 1;
        if (start >= data.size())
            break;
    }
    out.append('\n');
    return out;
}

QByteArray keepAlive()
{
    return QByteArrayLiteral(":\n\n");
}

QByteArray chunk(QByteArrayView payload)
{
    if (payload.isEmpty())
        return {};
    QByteArray out = QByteArray::number(payload.size(), 16);
    out.reserve(out.size() + payload.size() + 4);
    out.append("\r\n").append(payload).append("\r\n");
    return out;
}

QByteArray lastChunk()
{
    return QByteArrayLiteral("0\r\n\r\n");
}

} // namespace fmb::Sse
