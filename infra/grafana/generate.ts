/**
 * Writes infra/grafana/dashboards/<uid>.json from dashboards.ts (the one list of panels and queries).
 *   tsx infra/grafana/generate.ts           write the files
 *   tsx infra/grafana/generate.ts --check   exit 1 if a file differs from what the list produces
 */
import fs from 'node:fs';
import path from 'node:path';
import { DASHBOARDS, type Dashboard, type Panel } from './dashboards';

export const DASHBOARD_DIR = path.join(__dirname, 'dashboards');
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const ROW_HEIGHT = 8;

function panelJson(
  panel: Panel,
  id: number,
  gridPos: { x: number; y: number; w: number; h: number },
): object {
  const common = {
    id,
    type: panel.kind,
    title: panel.title,
    description: panel.description,
    datasource: DATASOURCE,
    gridPos,
    targets: panel.queries.map((query, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DATASOURCE,
      expr: query.expr,
      legendFormat: query.legend,
      range: true,
    })),
  };
  if (panel.kind === 'timeseries') {
    return {
      ...common,
      fieldConfig: {
        defaults: {
          unit: panel.unit,
          min: 0,
          custom: {
            drawStyle: 'line',
            lineWidth: 1,
            fillOpacity: panel.stack ? 30 : 10,
            showPoints: 'never',
            stacking: { mode: panel.stack ? 'normal' : 'none', group: 'A' },
          },
        },
        overrides: [],
      },
      options: {
        legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
        tooltip: { mode: 'multi', sort: 'desc' },
      },
    };
  }
  const reduce = { calcs: ['lastNotNull'], fields: '', values: false };
  if (panel.kind === 'stat') {
    return {
      ...common,
      fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
      options: {
        reduceOptions: reduce,
        colorMode: 'value',
        graphMode: 'area',
        textMode: 'auto',
        orientation: 'auto',
      },
    };
  }
  return {
    ...common,
    fieldConfig: { defaults: { unit: panel.unit, min: 0 }, overrides: [] },
    options: {
      reduceOptions: reduce,
      displayMode: 'gradient',
      orientation: 'horizontal',
      showUnfilled: true,
    },
  };
}

/** The Grafana dashboard model (schemaVersion 39: Grafana 10 and later). */
export function dashboardJson(dashboard: Dashboard): object {
  const panels: object[] = [];
  let id = 1;
  let y = 0;
  for (const row of dashboard.rows) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { x: 0, y, w: 24, h: 1 },
      panels: [],
    });
    y += 1;
    let x = 0;
    for (const panel of row.panels) {
      const w = panel.width ?? 12;
      if (x + w > 24) {
        x = 0;
        y += ROW_HEIGHT;
      }
      panels.push(panelJson(panel, id++, { x, y, w, h: ROW_HEIGHT }));
      x += w;
    }
    y += ROW_HEIGHT;
  }
  const variables: object[] = [
    {
      name: 'datasource',
      label: 'Prometheus',
      type: 'datasource',
      query: 'prometheus',
      current: { selected: true, text: 'Prometheus', value: 'prometheus' },
      hide: 0,
    },
  ];
  if (dashboard.poolVariable) {
    variables.push({
      name: 'pool',
      label: 'Pool',
      type: 'query',
      datasource: DATASOURCE,
      definition: 'label_values(rotor_pool_keys, pool)',
      query: { query: 'label_values(rotor_pool_keys, pool)', refId: 'pools' },
      refresh: 2,
      multi: true,
      includeAll: true,
      allValue: '.*',
      current: { selected: true, text: ['All'], value: ['$__all'] },
      sort: 1,
      hide: 0,
    });
  }
  return {
    uid: dashboard.uid,
    title: dashboard.title,
    description: dashboard.description,
    tags: ['rotor'],
    editable: true,
    graphTooltip: 1,
    refresh: '10s',
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    templating: { list: variables },
    annotations: { list: [] },
    links: [{ type: 'dashboards', tags: ['rotor'], asDropdown: true, title: 'Rotor dashboards' }],
    panels,
  };
}

export function renderedDashboards(): Map<string, string> {
  return new Map(
    DASHBOARDS.map((d) => [
      path.join(DASHBOARD_DIR, `${d.uid}.json`),
      `${JSON.stringify(dashboardJson(d), null, 2)}\n`,
    ]),
  );
}

function main(argv: string[]): void {
  const check = argv.includes('--check');
  const stale: string[] = [];
  for (const [file, text] of renderedDashboards()) {
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    if (current === text) continue;
    if (check) stale.push(path.relative(process.cwd(), file));
    else fs.writeFileSync(file, text);
  }
  if (stale.length) {
    console.error(`out of date (run: tsx infra/grafana/generate.ts): ${stale.join(', ')}`);
    process.exit(1);
  }
}

if (require.main === module) main(process.argv.slice(2));
