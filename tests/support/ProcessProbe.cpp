#include "ProcessProbe.h"

#include <QByteArray>
#include <QFile>
#include <QString>

namespace fmbtest {

bool processAlive(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (pid <= 0 || !stat.open(QIODevice::ReadOnly))
        return false;
    const QByteArray text = stat.readAll();
    // The command name in parentheses may itself hold ") ": the state follows the last one.
    const qsizetype paren = text.lastIndexOf(')');
    if (paren < 0 || paren + 2 >= text.size())
        return false;
    const char state = text.at(paren + 2);
    return state != 'Z' && state != 'X';
}

} // namespace fmbtest
