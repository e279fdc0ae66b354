import { fork } from 'node:child_process';
const t0 = Date.now();
const child = fork(process.argv[2]!, [], { execArgv: ['--import', 'tsx', '--expose-gc'], env: { ...process.env, BENCH_SHAPES: process.argv[3] ?? '32' } });
child.on('message', (m) => { console.log('msg', m, Date.now() - t0, 'ms'); child.send({ type: 'gc' }); if ((m as {type:string}).type === 'gc') child.send({type:'stop'}); });
child.on('exit', (c) => console.log('exit', c));
