#include "ConfigDiff.h"

#include "config/ConfigSetting.h"

namespace fmb {

QList<ConfigChange> configChanges(const BrokerConfig &before, const BrokerConfig &after)
{
    QList<ConfigChange> changes;
    for (const ConfigSetting &setting : configSettings()) {
        const QString was = setting.describe(before);
        const QString now = setting.describe(after);
        // child_env is described without its values (secrets): compare those too.
        const bool secretsDiffer =
            setting.key == QLatin1String("child_env") && before.childEnv != after.childEnv;
        if (was != now || secretsDiffer)
            changes.append({setting.key, was, now});
    }
    return changes;
}

} // namespace fmb
