#include "RecentTargets.h"

#include <QSettings>
#include <QStringList>

namespace fmb {
namespace {

const QString Key = QStringLiteral("recentDaemons");

void save(const QList<AdminTarget> &targets)
{
    QStringList entries;
    for (const AdminTarget &target : targets)
        entries.append(target.toSettingsString());
    QSettings().setValue(Key, entries);
}

} // namespace

QList<AdminTarget> RecentTargets::load()
{
    QList<AdminTarget> targets;
    const QStringList entries = QSettings().value(Key).toStringList();
    for (const QString &entry : entries) {
        Result<AdminTarget> target = AdminTarget::fromSettingsString(entry);
        if (target && !targets.contains(target.value()))
            targets.append(target.value());
    }
    return targets;
}

void RecentTargets::remember(const AdminTarget &target)
{
    QList<AdminTarget> targets = load();
    targets.removeAll(target);
    targets.prepend(target);
    while (targets.size() > MaxEntries)
        targets.removeLast();
    save(targets);
}

void RecentTargets::forget(const AdminTarget &target)
{
    QList<AdminTarget> targets = load();
    targets.removeAll(target);
    save(targets);
}

} // namespace fmb
