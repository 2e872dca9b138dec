/**
 * Embedded DNS of user-defined networks: one native drydock-dns per container
 * (native/drydock-dns.c) answering at 127.0.0.11 in its netns, fed a records
 * file per container. The network area decides which names go in; this
 * directory knows the file format and the helper's processes.
 */
export { DnsLauncher, type DnsLauncherOptions, type DnsTarget, type DnsHelperProcess } from './dns-launcher';
export { dnsRecordsFor, formatDnsRecords, writeDnsRecordsFile, type DnsEndpoint, type DnsRecord } from './records-file';
