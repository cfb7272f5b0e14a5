#include "FleetSessionModel.h"

#include <QDateTime>
#include <QLocale>
#include <QSet>

#include "SessionTableModel.h"

namespace fmb {

FleetSessionModel::FleetSessionModel(QObject *parent)
    : QAbstractTableModel(parent)
{}

int FleetSessionModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int FleetSessionModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant FleetSessionModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case BrokerColumn:
        return tr("Broker");
    case IdColumn:
        return tr("Session");
    case UserColumn:
        return tr("User");
    case ClientColumn:
        return tr("Client");
    case CreatedColumn:
        return tr("Created");
    case StateColumn:
        return tr("State");
    default:
        return {};
    }
}

QVariant FleetSessionModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const FleetSession &row = m_rows.at(index.row());
    if (role == SessionIdRole)
        return row.session.id;
    if (role == MemberRole)
        return row.member;
    if (role == Qt::ToolTipRole && index.column() == IdColumn)
        return row.session.id;
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case BrokerColumn:
        return row.broker;
    case IdColumn:
        return SessionTableModel::shortId(row.session.id);
    case UserColumn:
        return row.session.user;
    case ClientColumn:
        return row.session.isUserChild() ? tr("user child") : row.session.client;
    case CreatedColumn:
        return QLocale().toString(QDateTime::fromMSecsSinceEpoch(row.session.createdMs),
                                  QLocale::ShortFormat);
    case StateColumn:
        return row.session.state;
    default:
        return {};
    }
}

int FleetSessionModel::rowOf(const QString &id) const
{
    for (int i = 0; i < m_rows.size(); ++i) {
        if (m_rows.at(i).session.id == id)
            return i;
    }
    return -1;
}

void FleetSessionModel::setSessions(const QList<FleetSession> &sessions)
{
    QSet<QString> ids;
    for (const FleetSession &row : sessions)
        ids.insert(row.session.id);
    for (int i = int(m_rows.size()) - 1; i >= 0; --i) {
        if (!ids.contains(m_rows.at(i).session.id)) {
            beginRemoveRows({}, i, i);
            m_rows.removeAt(i);
            endRemoveRows();
        }
    }
    for (const FleetSession &row : sessions) {
        const int at = rowOf(row.session.id);
        if (at >= 0) {
            if (m_rows.at(at) != row) {
                m_rows[at] = row;
                Q_EMIT dataChanged(index(at, 0), index(at, ColumnCount - 1));
            }
            continue;
        }
        beginInsertRows({}, int(m_rows.size()), int(m_rows.size()));
        m_rows.append(row);
        endInsertRows();
    }
}

} // namespace fmb
