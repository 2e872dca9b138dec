import { FilterArgs } from '../http/query';
import { eventMatches, stripTag, type DockerEventMessage } from './event-filter';

const die: DockerEventMessage = {
  status: 'die',
  id: 'abc123def456',
  from: 'busybox',
  Type: 'container',
  Action: 'die',
  Actor: { ID: 'abc123def456', Attributes: { image: 'busybox', name: 'web', exitCode: '0', tier: 'front' } },
  scope: 'local',
  time: 1700000000,
  timeNano: 1700000000123000000,
};
const execCreate: DockerEventMessage = { ...die, status: 'exec_create: sh -c date', Action: 'exec_create: sh -c date' };
const imageTag: DockerEventMessage = { status: 'tag', id: 'sha256:aaa', Type: 'image', Action: 'tag', Actor: { ID: 'sha256:aaa', Attributes: { name: 'myimg:1' } }, scope: 'local', time: 1, timeNano: 1e9 };
const volumeCreate: DockerEventMessage = { Type: 'volume', Action: 'create', Actor: { ID: 'data', Attributes: { driver: 'local' } }, scope: 'local', time: 1, timeNano: 1e9 };

const f = (json: unknown) => FilterArgs.fromJson(JSON.stringify(json));

describe('eventMatches', () => {
  it('matches everything without filters', () => {
    for (const ev of [die, execCreate, imageTag, volumeCreate]) expect(eventMatches(FilterArgs.empty(), ev)).toBe(true);
  });

  it('filters on type', () => {
    expect(eventMatches(f({ type: { container: true } }), die)).toBe(true);
    expect(eventMatches(f({ type: { container: true } }), imageTag)).toBe(false);
    expect(eventMatches(f({ type: { image: true, volume: true } }), volumeCreate)).toBe(true);
  });

  it('filters on event exactly, and exec_create/exec_start/health_status by prefix', () => {
    expect(eventMatches(f({ event: { die: true } }), die)).toBe(true);
    expect(eventMatches(f({ event: { di: true } }), die)).toBe(false);
    expect(eventMatches(f({ event: { start: true } }), die)).toBe(false);
    expect(eventMatches(f({ event: { exec_create: true } }), execCreate)).toBe(true);
    expect(eventMatches(f({ event: { die: true, exec_create: true } }), die)).toBe(true);
    expect(eventMatches(f({ event: { die: true } }), execCreate)).toBe(false);
  });

  it('matches a container by name or id prefix, and excludes other actors', () => {
    expect(eventMatches(f({ container: { web: true } }), die)).toBe(true);
    expect(eventMatches(f({ container: { abc123: true } }), die)).toBe(true);
    expect(eventMatches(f({ container: { other: true } }), die)).toBe(false);
    expect(eventMatches(f({ container: { web: true } }), imageTag)).toBe(false);
  });

  it('ANDs keys and ORs values', () => {
    expect(eventMatches(f({ container: { web: true, other: true }, event: { die: true } }), die)).toBe(true);
    expect(eventMatches(f({ container: { web: true }, event: { start: true } }), die)).toBe(false);
  });

  it('matches images by id, name, and name without tag, for image and container events', () => {
    expect(eventMatches(f({ image: { 'myimg:1': true } }), imageTag)).toBe(true);
    expect(eventMatches(f({ image: { myimg: true } }), imageTag)).toBe(true);
    expect(eventMatches(f({ image: { 'sha256:aaa': true } }), imageTag)).toBe(true);
    expect(eventMatches(f({ image: { busybox: true } }), die)).toBe(true);
    expect(eventMatches(f({ image: { alpine: true } }), die)).toBe(false);
  });

  it('matches labels as k or k=v, all required', () => {
    expect(eventMatches(f({ label: { tier: true } }), die)).toBe(true);
    expect(eventMatches(f({ label: { 'tier=front': true } }), die)).toBe(true);
    expect(eventMatches(f({ label: { 'tier=back': true } }), die)).toBe(false);
    expect(eventMatches(f({ label: { 'tier=front': true, missing: true } }), die)).toBe(false);
    expect(eventMatches(f({ label: { tier: true } }), volumeCreate)).toBe(false);
  });

  it('matches volumes by name', () => {
    expect(eventMatches(f({ volume: { data: true } }), volumeCreate)).toBe(true);
    expect(eventMatches(f({ volume: { other: true } }), volumeCreate)).toBe(false);
  });

  it('accepts the legacy list form of filters', () => {
    expect(eventMatches(FilterArgs.fromJson('{"event":["die"]}'), die)).toBe(true);
    expect(eventMatches(FilterArgs.fromJson('{"event":["start"]}'), die)).toBe(false);
  });

  it('rejects malformed filters as invalid arguments', () => {
    expect(() => FilterArgs.fromJson('{"event":')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => FilterArgs.fromJson('{"event":"die"}')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('strips tags and Docker Hub prefixes', () => {
    expect(stripTag('busybox:1')).toBe('busybox');
    expect(stripTag('docker.io/library/busybox:latest')).toBe('busybox');
    expect(stripTag('127.0.0.1:5000/team/app:v1')).toBe('127.0.0.1:5000/team/app');
    expect(stripTag('127.0.0.1:5000/team/app')).toBe('127.0.0.1:5000/team/app');
    expect(stripTag('sha256:abc')).toBe('sha256:abc');
  });
});

describe('FilterArgs.toProto', () => {
  it('gives one filter per key', () => {
    expect(f({ dangling: { true: true }, label: { a: true, 'b=c': true } }).toProto()).toEqual([
      { key: 'dangling', values: ['true'] },
      { key: 'label', values: ['a', 'b=c'] },
    ]);
  });
});

describe('network events (dockerd 20.10 shape: Type network, Actor.ID the network id, name/type/container attributes)', () => {
  const netId = 'f'.repeat(64);
  const connect: DockerEventMessage = { Type: 'network', Action: 'connect', Actor: { ID: netId, Attributes: { container: 'c'.repeat(64), name: 'app_default', type: 'bridge' } }, scope: 'local', time: 1, timeNano: 1e9 };
  const create: DockerEventMessage = { ...connect, Action: 'create', Actor: { ID: netId, Attributes: { name: 'app_default', type: 'bridge' } } };

  it('matches network=<name|id prefix>, type=network and event=<action>', () => {
    expect(eventMatches(f({ network: { app_default: true } }), connect)).toBe(true);
    expect(eventMatches(f({ network: { fff: true } }), create)).toBe(true);
    expect(eventMatches(f({ network: { other: true } }), create)).toBe(false);
    expect(eventMatches(f({ type: { network: true }, event: { connect: true } }), connect)).toBe(true);
    expect(eventMatches(f({ type: { network: true }, event: { connect: true } }), create)).toBe(false);
    expect(eventMatches(f({ type: { container: true } }), connect)).toBe(false);
  });

  it('does not match a container filter on the container attribute (dockerd matches the actor only)', () => {
    expect(eventMatches(f({ container: { ['c'.repeat(12)]: true } }), connect)).toBe(false);
  });
});
