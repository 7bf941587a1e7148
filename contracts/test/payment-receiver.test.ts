import { id, parseEther, ZeroAddress } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentReceiverAbi, paymentReceiverBytecode, testUsdcAbi, testUsdcBytecode } from '../src/index.js';
import {
  as,
  deploy,
  eventsOf,
  expectRevert,
  interfaceId,
  mined,
  startChain,
  type Chain,
  type ContractOf,
} from './chain.js';

let chain: Chain;
let receiver: ContractOf<typeof paymentReceiverAbi>;
let usdc: ContractOf<typeof testUsdcAbi>;
let receiverAddress: string;
let usdcAddress: string;
const order = id('order-42');
const usdcUnits = (amount: number) => BigInt(amount) * 1_000_000n;

beforeAll(async () => {
  chain = await startChain();
  receiver = await deploy(chain.admin, paymentReceiverAbi, paymentReceiverBytecode, chain.admin.address);
  usdc = await deploy(chain.admin, testUsdcAbi, testUsdcBytecode, chain.admin.address);
  receiverAddress = await receiver.getAddress();
  usdcAddress = await usdc.getAddress();
});

afterAll(async () => {
  await chain?.stop();
});

describe('TestUSDC', () => {
  it('has 6 decimals and only its owner mints', async () => {
    expect(await usdc.decimals()).toBe(6n);
    expect(await usdc.symbol()).toBe('tUSDC');
    const payer = chain.holders[0]!;
    await mined(usdc.mint(payer.address, usdcUnits(1000)));
    expect(await usdc.balanceOf(payer.address)).toBe(usdcUnits(1000));
    await expectRevert(usdc, as(usdc, payer).mint(payer.address, 1n), 'OwnableUnauthorizedAccount', [
      payer.address,
    ]);
  });
});

describe('pay (native coin)', () => {
  it('takes the value sent and emits PaymentReceived with token address(0)', async () => {
    const payer = chain.holders[1]!;
    const before = await chain.provider.getBalance(receiverAddress);
    const receipt = await mined(as(receiver, payer).pay(order, { value: parseEther('0.25') }));
    expect([...eventsOf(receipt, receiver, 'PaymentReceived')[0]!.args]).toEqual([
      order,
      payer.address,
      ZeroAddress,
      parseEther('0.25'),
    ]);
    expect(await chain.provider.getBalance(receiverAddress)).toBe(before + parseEther('0.25'));
  });

  it('refuses nothing, an empty order reference and plain transfers', async () => {
    const payer = as(receiver, chain.holders[1]!);
    await expectRevert(receiver, payer.pay(order, { value: 0 }), 'PaymentZeroAmount');
    await expectRevert(receiver, payer.pay(`0x${'00'.repeat(32)}`, { value: 1 }), 'PaymentEmptyOrderRef');
    // No receive(): money without an order reference cannot be matched to anything.
    await expect(chain.holders[1]!.sendTransaction({ to: receiverAddress, value: 1 })).rejects.toThrow();
  });
});

describe('payToken (ERC-20)', () => {
  it('refuses tokens the admin has not allowed, and lets only the admin allow them', async () => {
    const payer = chain.holders[0]!;
    await mined(as(usdc, payer).approve(receiverAddress, usdcUnits(100)));
    await expectRevert(
      receiver,
      as(receiver, payer).payToken(order, usdcAddress, usdcUnits(10)),
      'PaymentTokenNotAllowed',
      [usdcAddress],
    );
    await expectRevert(
      receiver,
      as(receiver, payer).setTokenAllowed(usdcAddress, true),
      'AccessControlUnauthorizedAccount',
      [payer.address, `0x${'00'.repeat(32)}`],
    );
    const receipt = await mined(receiver.setTokenAllowed(usdcAddress, true));
    expect([...eventsOf(receipt, receiver, 'TokenAllowedSet')[0]!.args]).toEqual([usdcAddress, true]);
    expect(await receiver.isTokenAllowed(usdcAddress)).toBe(true);
    await expectRevert(receiver, receiver.setTokenAllowed(ZeroAddress, true), 'PaymentZeroAddress');
  });

  it('pulls an allowed token with SafeERC20 and emits what arrived', async () => {
    const payer = chain.holders[0]!;
    const receipt = await mined(as(receiver, payer).payToken(order, usdcAddress, usdcUnits(40)));
    expect([...eventsOf(receipt, receiver, 'PaymentReceived')[0]!.args]).toEqual([
      order,
      payer.address,
      usdcAddress,
      usdcUnits(40),
    ]);
    expect(await usdc.balanceOf(receiverAddress)).toBe(usdcUnits(40));
    expect(await usdc.balanceOf(payer.address)).toBe(usdcUnits(960));
    await expectRevert(receiver, as(receiver, payer).payToken(order, usdcAddress, 0), 'PaymentZeroAmount');
    // More than approved: the token's own error comes through SafeERC20.
    await expectRevert(
      usdc,
      as(receiver, payer).payToken(order, usdcAddress, usdcUnits(100)),
      'ERC20InsufficientAllowance',
    );
  });

  it('stops accepting a token the admin disallows', async () => {
    await mined(receiver.setTokenAllowed(usdcAddress, false));
    await expectRevert(
      receiver,
      as(receiver, chain.holders[0]!).payToken(order, usdcAddress, 1n),
      'PaymentTokenNotAllowed',
      [usdcAddress],
    );
    await mined(receiver.setTokenAllowed(usdcAddress, true));
  });
});

describe('withdraw', () => {
  it('sends native coin and tokens to whom the admin says, and only the admin', async () => {
    const treasury = chain.holders[5]!.address;
    const nativeBefore = await chain.provider.getBalance(treasury);
    const receipt = await mined(receiver.withdraw(ZeroAddress, treasury, parseEther('0.1')));
    expect([...eventsOf(receipt, receiver, 'Withdrawn')[0]!.args]).toEqual([
      ZeroAddress,
      treasury,
      parseEther('0.1'),
    ]);
    expect(await chain.provider.getBalance(treasury)).toBe(nativeBefore + parseEther('0.1'));

    await mined(receiver.withdraw(usdcAddress, treasury, usdcUnits(15)));
    expect(await usdc.balanceOf(treasury)).toBe(usdcUnits(15));
    expect(await usdc.balanceOf(receiverAddress)).toBe(usdcUnits(25));

    await expectRevert(
      receiver,
      as(receiver, chain.stranger).withdraw(ZeroAddress, chain.stranger.address, 1n),
      'AccessControlUnauthorizedAccount',
    );
    await expectRevert(receiver, receiver.withdraw(ZeroAddress, ZeroAddress, 1n), 'PaymentZeroAddress');
    await expectRevert(receiver, receiver.withdraw(ZeroAddress, treasury, 0), 'PaymentZeroAmount');
    // More than it holds: the native send fails and says so.
    await expectRevert(
      receiver,
      receiver.withdraw(ZeroAddress, treasury, parseEther('1000')),
      'PaymentNativeTransferFailed',
      [treasury, parseEther('1000')],
    );
  });

  it('supports ERC-165, AccessControl and IPaymentReceiver', async () => {
    const ownInterface = interfaceId([
      'pay(bytes32)',
      'payToken(bytes32,address,uint256)',
      'setTokenAllowed(address,bool)',
      'withdraw(address,address,uint256)',
      'isTokenAllowed(address)',
    ]);
    for (const supported of ['0x01ffc9a7', '0x7965db0b', ownInterface]) {
      expect(await receiver.supportsInterface(supported)).toBe(true);
    }
    expect(await receiver.supportsInterface('0xdeadbeef')).toBe(false);
  });
});
