#include "HostNames.h"

#include <QHostAddress>

namespace fmb {

bool isLoopbackHost(const QString &host)
{
    QString bare = host;
    if (bare.startsWith(QLatin1Char('[')) && bare.endsWith(QLatin1Char(']')))
        bare = bare.mid(1, bare.size() - 2);
    if (bare.compare(QLatin1String("localhost"), Qt::CaseInsensitive) == 0)
        return true;
    QHostAddress address;
    return address.setAddress(bare) && address.isLoopback();
}

} // namespace fmb
