// Grafana 11's published dashboard types (@grafana/schema), narrowed where the LDV dashboards
// use the ClickHouse plugin: Grafana's DataQuery knows only refId, datasource, hide and
// queryType; the plugin's SQL target adds editorType, rawSql and format
// (grafana/clickhouse-datasource src/types/sql.ts). Everything else is Grafana's own type.
import type { Dashboard, DataQuery, Panel, VariableModel } from '@grafana/schema';

export interface ClickHouseTarget extends DataQuery {
  datasource: { type: 'grafana-clickhouse-datasource'; uid: string };
  editorType: 'sql';
  rawSql: string;
  format: 0 | 1 | 2 | 3;
  queryType: 'timeseries' | 'table' | 'logs' | 'traces';
}

export interface LdvPanel extends Omit<Panel, 'targets'> {
  targets?: ClickHouseTarget[];
}

// A query variable's query is the plugin's object; the SDK writes the interval-variable fields
// (auto, auto_count, auto_min) on every variable, which Grafana ignores elsewhere.
export interface LdvVariable extends Omit<VariableModel, 'query'> {
  query?: string | { editorType: 'sql'; rawSql: string };
  auto?: boolean;
  auto_count?: number;
  auto_min?: string;
}

// JSON holds an enum's value, not the enum: a string enum type (ThresholdsMode, ...) becomes
// the union of its string values, everything else stays as Grafana declares it.
export type Json<T> = T extends string
  ? string extends T
    ? string
    : `${T}`
  : T extends Array<infer U>
    ? Json<U>[]
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

export type LdvDashboard = Json<
  Omit<Dashboard, 'panels' | 'templating'> & {
    panels: LdvPanel[];
    templating: { list: LdvVariable[] };
  }
>;
