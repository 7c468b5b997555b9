import { SshExecutor } from '../activities/executors/ssh';
import { startTestHosts } from './support/hosts';
void (async () => {
  const lab = await startTestHosts(1);
  const h = lab.hosts[0]!;
  const ssh = new SshExecutor(
    {
      name: 'h',
      address: h.address,
      port: 22,
      user: 'root',
      hostKey: { insecureSkipVerify: true },
      maxSessions: 10,
    },
    { privateKey: lab.privateKey },
  );
  const pid = await ssh.startDetached(['sleep', '63.5'], { cwd: lab.dir, logPath: `${lab.dir}/l` });
  const r = await ssh.run(['pgrep', '-af', '--', 'sleep 63.5']);
  console.log('pgrep -af:', JSON.stringify(r.stdout), 'detached pid', pid);
  for (const line of r.stdout.trim().split('\n')) {
    const p = line.split(' ')[0];
    console.log(
      p,
      JSON.stringify(await ssh.readFile(`/proc/${p}/cmdline`)),
      JSON.stringify(await ssh.readFile(`/proc/${p}/stat`)),
    );
  }
  await ssh.signal(pid, 'KILL');
  await ssh.close();
  await lab.stop();
})();
