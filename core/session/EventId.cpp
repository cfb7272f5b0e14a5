#include "EventId.h"

namespace fmb {

QByteArray EventId::toBytes() const
{
    return QByteArray::number(stream).append('-').append(QByteArray::number(seq));
}

std::optional<EventId> EventId::parse(QByteArrayView value)
{
    const qsizetype dash = value.indexOf('-');
    if (dash <= 0)
        return std::nullopt;
    bool okStream = false;
    bool okSeq = false;
    EventId id;
    id.stream = value.first(dash).toInt(&okStream);
    id.seq = value.sliced(dash + 1).toLongLong(&okSeq);
    if (!okStream || !okSeq || id.stream < 0 || id.seq < 0)
        return std::nullopt;
    return id;
}

} // namespace fmb
