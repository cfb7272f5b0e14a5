#include "NodeId.h"

#include <algorithm>

namespace fmb {
namespace {

bool isNodeIdChar(QChar c)
{
    const char16_t u = c.unicode();
    return (u >= u'0' && u <= u'9') || (u >= u'a' && u <= u'z') || (u >= u'A' && u <= u'Z') || u == u'.' ||
           u == u'_' || u == u'-';
}

} // namespace

bool isValidNodeId(const QString &text)
{
    if (text.isEmpty() || text.size() > MaxNodeIdLength)
        return false;
    return std::all_of(text.cbegin(), text.cend(), isNodeIdChar);
}

QString defaultNodeId(const QString &hostName, quint16 port)
{
    const QString suffix = QLatin1Char('-') + QString::number(port);
    QString host = hostName.section(QLatin1Char('.'), 0, 0);
    for (QChar &c : host) {
        if (!isNodeIdChar(c))
            c = QLatin1Char('-');
    }
    if (host.isEmpty())
        host = QStringLiteral("broker");
    return host.left(MaxNodeIdLength - suffix.size()) + suffix;
}

} // namespace fmb
