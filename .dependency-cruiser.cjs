// Layer rules from DESIGN.md: bot and jobs → engine facade → ports ← adapters.
// Paths are relative to the repository root (run as `depcruise src --config .dependency-cruiser.cjs`).

/** An npm package resolved under node_modules, or left unresolved by name. */
function npmPackage(name) {
  return `(^|/)node_modules/${name}/|^${name}(/|$)`;
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'bot-jobs-use-engine-facade',
      severity: 'error',
      comment:
        'src/bot and src/jobs talk to the engine only through src/engine/index.ts (the Engine facade).',
      from: { path: '^src/(bot|jobs)/' },
      to: { path: '^src/engine/', pathNot: '^src/engine/index\\.ts$' },
    },
    {
      name: 'engine-stays-inside',
      severity: 'error',
      comment:
        'The engine knows nothing of the chat, the job runner, config or process wiring; main.ts injects them.',
      from: { path: '^src/engine/' },
      to: { path: '^src/(bot|jobs|infra)/|^src/(main|config)\\.ts$|^src/config/' },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'src/engine/domain holds value types and errors; it imports no other engine folder.',
      from: { path: '^src/engine/domain/' },
      to: { path: '^src/engine/', pathNot: '^src/engine/domain/' },
    },
    {
      name: 'ccxt-only-in-ccxt-adapter',
      severity: 'error',
      comment: 'Nothing above the exchange adapter sees ccxt (types included): map to engine types there.',
      from: { pathNot: '^src/engine/exchange/ccxt[^/]*\\.ts$' },
      to: { path: npmPackage('ccxt') },
    },
    {
      name: 'ioredis-only-in-redis-adapters',
      severity: 'error',
      comment: 'Redis is reached through the store port; only its adapter, the jobs and infra hold a client.',
      from: { pathNot: '^src/engine/store/redis[^/]*\\.ts$|^src/jobs/|^src/infra/' },
      to: { path: npmPackage('ioredis') },
    },
    {
      name: 'bullmq-only-in-jobs',
      severity: 'error',
      comment: 'Queues and workers live in src/jobs.',
      from: { pathNot: '^src/jobs/' },
      to: { path: npmPackage('bullmq') },
    },
    {
      name: 'telegraf-only-in-telegram-adapter',
      severity: 'error',
      comment:
        'Command logic is transport-free (the console chat runs the same table); only src/bot/telegram*.ts touches telegraf.',
      from: { pathNot: '^src/bot/telegram[^/]*\\.ts$' },
      to: { path: `${npmPackage('telegraf')}|${npmPackage('@telegraf')}` },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Cycles hide the layering and make start-up order fragile.',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a `import type` of ccxt above the adapter is still a leak.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'types', 'default'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
